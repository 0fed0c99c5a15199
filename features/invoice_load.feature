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

  @SIT-INV-002 @capability:invoice_load
  Scenario: Faulty records are rejected with a reason and the good ones still load
    Given the partner has an invoice file for today with 3 bills
    And the invoice file also has these faulty records:
      | fault                    |
      | missing account number   |
      | negative amount          |
      | non-numeric amount       |
      | duplicate invoice number |
    When the partner uploads the invoice file to the platform's sFTP inbox
    And the platform imports its sFTP inbox
    Then 3 bills are loaded
    And the rejected records give these reasons:
      | reason                   |
      | missing account number   |
      | is negative              |
      | is not a number          |
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
