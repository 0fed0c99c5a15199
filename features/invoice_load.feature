@section:invoice_load
Feature: Invoice load
  The partner sends its invoice file over sFTP; the platform maps every record to its
  bill import format (BIF) and presents the bills to payers.

  @SIT-INV-001 @capability:invoice_load
  Scenario: A day's invoice file loads every bill
    Given the partner has an invoice file for today with 5 bills
    When the partner uploads the invoice file to the platform's sFTP inbox
    And the platform imports its sFTP inbox
    Then the platform received the invoice file intact
    And 5 bills are loaded and none is rejected
    And every bill matches its record in the file

  @SIT-INV-002 @capability:invoice_load @layout:decimal_point
  Scenario: Faulty records are rejected with a reason and the good ones still load
    Given the partner has an invoice file for today with 3 bills
    And the invoice file also has these faulty records:
      | fault                      |
      | missing account number     |
      | negative amount            |
      | non-numeric amount         |
      | amount with three decimals |
      | amount with an exponent    |
      | bad due date               |
      | duplicate invoice number   |
    When the partner uploads the invoice file to the platform's sFTP inbox
    And the platform imports its sFTP inbox
    Then 3 bills are loaded
    And the rejected records give these reasons:
      | reason                   |
      | missing account number   |
      | is negative              |
      | is not a number          |
      | has more than 2 decimals |
      | is not a plain amount    |
      | is not a date            |
      | duplicate invoice number |

  @SIT-INV-003 @capability:past_due
  Scenario: A past due charge in the file reaches the payer's bill
    Given the partner has an invoice file for today with a bill of 140.00 of which 35.00 is past due
    When the partner uploads the invoice file to the platform's sFTP inbox
    And the platform imports its sFTP inbox
    Then the payer's bill shows 140.00 due of which 35.00 is past due

  @SIT-INV-004 @capability:balance_forward_billing
  Scenario: With balance forward billing the payer sees only the latest bill
    Given the partner has an invoice file for today with 2 bills for one account, of 90.00 and 110.00
    When the partner uploads the invoice file to the platform's sFTP inbox
    And the platform imports its sFTP inbox
    Then the payer is presented 1 bill totalling 110.00

  @SIT-INV-005 @capability:open_item_billing
  Scenario: With open item billing every open item is a bill of its own
    Given the partner has an invoice file for today with 2 bills for one account, of 90.00 and 110.00
    When the partner uploads the invoice file to the platform's sFTP inbox
    And the platform imports its sFTP inbox
    Then the payer is presented 2 bills totalling 200.00

  @SIT-INV-006 @capability:open_item_billing @layout:item_status
  Scenario: Closed items in the file are not loaded and the payer is not presented them
    Given the partner has an invoice file for today with 2 open and 2 closed items for one account
    When the partner uploads the invoice file to the platform's sFTP inbox
    And the platform imports its sFTP inbox
    Then 2 bills are loaded and none is rejected
    And the payer is presented only the open items

  @SIT-INV-007 @capability:invoice_load
  Scenario: Several bills per account load and are presented as the partner's billing model says
    Given the partner has an invoice file for today with 3 accounts of 3 bills each
    When the partner uploads the invoice file to the platform's sFTP inbox
    And the platform imports its sFTP inbox
    Then 9 bills are loaded and none is rejected
    And each account is presented its bills as the partner's billing model says

  @SIT-INV-008 @capability:past_due @layout:charge_lines
  Scenario: A credit adjustment inside a positive bill is not a fault
    Given the partner has an invoice file for today with a bill of 120.00 of which 35.00 is past due
    And the bill has a credit adjustment of 15.00
    When the partner uploads the invoice file to the platform's sFTP inbox
    And the platform imports its sFTP inbox
    Then 1 bill is loaded and none is rejected
    And the payer's bill shows 120.00 due of which 35.00 is past due

  @SIT-INV-009 @capability:invoice_load
  Scenario: A file that starts with a byte-order mark loads
    Given the partner has an invoice file for today with 3 bills for customers with accented names
    And the invoice file starts with a byte-order mark
    When the partner uploads the invoice file to the platform's sFTP inbox
    And the platform imports its sFTP inbox
    Then 3 bills are loaded and none is rejected
    And every bill matches its record in the file

  @SIT-INV-010 @capability:invoice_load @layout:declared_encoding
  Scenario: A file in ISO-8859-1 loads with the customers' names intact
    Given the partner has an invoice file for today with 3 bills for customers with accented names
    And the invoice file is written in "ISO-8859-1"
    When the partner uploads the invoice file to the platform's sFTP inbox
    And the platform imports its sFTP inbox
    Then 3 bills are loaded and none is rejected
    And every bill matches its record in the file

  @SIT-INV-011 @capability:invoice_load @layout:declared_encoding
  Scenario: A file in windows-1252 loads with the customers' names intact
    Given the partner has an invoice file for today with 4 bills for customers with accented names
    And the invoice file is written in "windows-1252"
    When the partner uploads the invoice file to the platform's sFTP inbox
    And the platform imports its sFTP inbox
    Then 4 bills are loaded and none is rejected
    And every bill matches its record in the file

  @SIT-INV-012 @capability:invoice_load
  Scenario: Amounts in the file load exactly, to the cent
    Given the partner has an invoice file for today with bills of these amounts:
      | amount     |
      | 0.10       |
      | 0.29       |
      | 19.99      |
      | 1234567.89 |
      | 0.01       |
    When the partner uploads the invoice file to the platform's sFTP inbox
    And the platform imports its sFTP inbox
    Then 5 bills are loaded and none is rejected
    And every bill matches its record in the file

  @SIT-INV-013 @capability:invoice_load
  Scenario: A file already imported is not loaded again when the platform imports its inbox again
    Given the partner has an invoice file for today with 2 accounts of 2 bills each
    When the partner uploads the invoice file to the platform's sFTP inbox
    And the platform imports its sFTP inbox
    Then 4 bills are loaded and none is rejected
    When the platform imports its sFTP inbox again
    Then the second import loads nothing, as the file was imported already
    And each account is presented its bills as the partner's billing model says

  @SIT-INV-014 @capability:invoice_load
  Scenario: The same invoice file sent again under another name is refused, and its bills load once
    Given the partner has an invoice file for today with 2 accounts of 2 bills each
    And the partner uploads the invoice file to the platform's sFTP inbox
    And the platform imports its sFTP inbox
    When the partner uploads the same invoice file again under another name
    And the platform imports its sFTP inbox again
    Then the second import refuses the file as the same as the first, loading nothing
    And each account is presented its bills as the partner's billing model says

  @SIT-INV-015 @capability:invoice_load @layout:trailer
  Scenario: An invoice file whose trailer miscounts its records is refused whole, loading nothing
    Given the partner has an invoice file for today with 3 bills
    And the invoice file's trailer counts one record more than it holds
    When the partner uploads the invoice file to the platform's sFTP inbox
    And the platform imports its sFTP inbox
    Then the platform refuses the invoice file whole, naming "the file has 3"
    And 0 bills are loaded

  @SIT-INV-016 @capability:invoice_load @layout:trailer
  Scenario: An invoice file whose trailer total disagrees with its bills is refused whole, loading nothing
    Given the partner has an invoice file for today with 3 bills
    And the invoice file's trailer total is 0.01 more than its bills
    When the partner uploads the invoice file to the platform's sFTP inbox
    And the platform imports its sFTP inbox
    Then the platform refuses the invoice file whole, naming "the records add up to"
    And 0 bills are loaded

  @SIT-INV-017 @capability:invoice_load @layout:record_types
  Scenario: A line of a record type the layout does not know is rejected, naming it, and the bills load
    Given the partner has an invoice file for today with 3 bills
    And the invoice file has a line of a record type the layout does not know among its bills
    When the partner uploads the invoice file to the platform's sFTP inbox
    And the platform imports its sFTP inbox
    Then 3 bills are loaded
    And the rejected records give these reasons:
      | reason              |
      | unknown record type |

  @SIT-INV-018 @capability:invoice_load @layout:fixed_width @layout:trailer
  Scenario: A fixed-width line cut short leaves the trailer's total unproven: the file is refused whole
    Given the partner has an invoice file for today with 3 bills
    And one bill's line in the invoice file is cut short
    When the partner uploads the invoice file to the platform's sFTP inbox
    And the platform imports its sFTP inbox
    Then the platform refuses the invoice file whole, naming "short line"
    And 0 bills are loaded

  @SIT-INV-019 @capability:invoice_load @layout:implied_decimals
  Scenario: Faulty records of a file with implied decimals are rejected with a reason and the good ones still load
    Given the partner has an invoice file for today with 3 bills
    And the invoice file also has these faulty records:
      | fault                    |
      | missing account number   |
      | negative amount          |
      | non-numeric amount       |
      | bad due date             |
      | duplicate invoice number |
    When the partner uploads the invoice file to the platform's sFTP inbox
    And the platform imports its sFTP inbox
    Then 3 bills are loaded
    And the rejected records give these reasons:
      | reason                   |
      | missing account number   |
      | is negative              |
      | is not a number          |
      | is not a date            |
      | duplicate invoice number |
