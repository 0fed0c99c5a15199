@section:adjustment_file
Feature: Balance updates by adjustment file
  Where the partner has no real-time balance service, it sends the platform balance adjustment
  files over sFTP: each account's current balance and past due amount, which the payer is shown
  until the next file says otherwise. A file is taken whole or not at all.

  @SIT-ADJ-001 @capability:adjustment_file
  Scenario: An adjustment file sets the balance and past due amount the payer sees
    Given the partner holds an account with a balance of 182.40 of which 40.00 is past due
    When the payer opens the account on the payment route
    Then the payment route shows a balance of 182.40
    And the payment route shows 40.00 past due
    And the platform took the account's balance from 1 adjustment file

  @SIT-ADJ-002 @capability:adjustment_file
  Scenario: A later adjustment file replaces the balance of an earlier one
    Given the partner holds an account with a balance of 120.00
    When the payer opens the account on the payment route
    And the partner's balance for the account changes to 62.00
    And the payer opens the account on the payment route again
    Then the payment route shows a balance of 62.00
    And the platform took the account's balance from 2 adjustment files

  @SIT-ADJ-003 @capability:adjustment_file @layout:trailer
  Scenario: An adjustment file whose trailer miscounts its records is refused whole
    Given the partner holds an account with a balance of 120.00
    When the partner sends an adjustment file saying the account holds 62.00, its trailer counting one record more
    And the payer opens the account on the payment route
    Then the platform refused the adjustment file whole, naming "records"
    And the payment route shows a balance of 120.00
    And the platform took the account's balance from 1 adjustment file

  @SIT-ADJ-004 @capability:adjustment_file
  Scenario: An account in no adjustment file is reported, not shown as zero
    When the payer opens an account the partner does not hold
    Then the payment route says the account was not found
