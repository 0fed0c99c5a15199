@section:rtdr_balance
Feature: Real-time balance (RTDR)
  While a payer looks at an account the platform asks the partner for its current balance,
  past due amount and payment blocks.

  @SIT-BAL-001 @capability:rtdr_balance
  Scenario: Opening an account shows the partner's current balance
    Given the partner holds an account with a balance of 182.40
    When the payer opens the account on the payment route
    Then the payment route shows a balance of 182.40
    And the platform asked the partner for that account's balance 1 time

  @SIT-BAL-002 @capability:rtdr_balance @capability:past_due
  Scenario: The past due amount from RTDR is shown
    Given the partner holds an account with a balance of 182.40 of which 40.00 is past due
    When the payer opens the account on the payment route
    Then the payment route shows 40.00 past due

  @SIT-BAL-003 @capability:rtdr_balance @setting:block_codes:CC
  Scenario: A card block from the partner stops card payments only
    Given the partner blocks card payments for an account
    When the payer opens the account on the payment route
    Then card payments are blocked and ACH payments are allowed
    And a card payment of 20.00 is refused as blocked

  @SIT-BAL-004 @capability:rtdr_balance @setting:block_codes:ACH
  Scenario: An ACH block from the partner stops ACH payments only
    Given the partner blocks ACH payments for an account
    When the payer opens the account on the payment route
    Then ACH payments are blocked and card payments are allowed
    And an ACH payment of 20.00 is refused as blocked

  @SIT-BAL-005 @capability:rtdr_balance @setting:portal_block_lock
  Scenario: Only RTDR sets block flags when the biller says so
    Given the biller lets only RTDR set payment blocks
    And the partner holds an account with a balance of 50.00
    When a biller portal user tries to block ACH payments for the account
    Then the platform refuses the portal user's block

  @SIT-BAL-011 @capability:rtdr_balance @setting-off:portal_block_lock
  Scenario: A block a biller portal user sets stops that method's payments where the biller allows it
    Given the partner holds an account with a balance of 50.00
    When a biller portal user tries to block ACH payments for the account
    Then an ACH payment of 20.00 is refused as blocked

  @SIT-BAL-006 @capability:rtdr_balance
  Scenario: An account the partner does not hold is reported, not shown as zero
    When the payer opens an account the partner does not hold
    Then the payment route says the account was not found

  @SIT-BAL-007 @capability:budget_billing
  Scenario: A budget billing account shows its monthly budget amount
    Given the partner holds an account on budget billing of 95.00 a month
    When the payer opens the account on the payment route
    Then the payment route shows a budget amount of 95.00

  @SIT-BAL-008 @capability:rtdr_balance
  Scenario: A second look at the account shows the partner's new balance, asked for again
    Given the partner holds an account with a balance of 120.00
    When the payer opens the account on the payment route
    Then the payment route shows a balance of 120.00
    When the partner's balance for the account changes to 62.00
    And the payer opens the account on the payment route again
    Then the payment route shows a balance of 62.00
    And the platform asked the partner for that account's balance 2 times

  @SIT-BAL-009 @capability:rtdr_balance @capability:payment_posting
  Scenario: After a payment posted, the payer sees the balance the partner now holds, asked for again
    Given the partner holds an account with a balance of 120.00
    When the payer opens the account on the payment route
    And the payer pays 58.00 by ACH
    And the data pump runs
    Then the partner received the payment of 58.00 by ACH for the account
    When the partner's balance for the account changes to 62.00
    And the payer opens the account on the payment route again
    Then the payment route shows a balance of 62.00
    And the platform asked the partner for that account's balance 2 times

  @SIT-BAL-010 @capability:rtdr_balance @setting:block_codes
  Scenario: Every block code of the biller's setting blocks exactly its methods, and other billers' codes block nothing
    Given the partner holds an account for each block code of the biller's setting, one without a code and one for each of these codes of other billers:
      | code      |
      | B         |
      | C         |
      | E         |
      | NO_CC     |
      | NO_ACH    |
      | NO_ONLINE |
    When the payer opens each of those accounts on the payment route
    Then each account blocks exactly the payment methods whose block codes list its code
