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

  @SIT-BAL-002 @capability:past_due
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

  @SIT-BAL-006 @capability:rtdr_balance
  Scenario: An account the partner does not hold is reported, not shown as zero
    When the payer opens an account the partner does not hold
    Then the payment route says the account was not found

  @SIT-BAL-007 @capability:budget_billing
  Scenario: A budget billing account shows its monthly budget amount
    Given the partner holds an account on budget billing of 95.00 a month
    When the payer opens the account on the payment route
    Then the payment route shows a budget amount of 95.00
