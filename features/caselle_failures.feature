@section:partner_failures
Feature: Caselle Connect: known failure modes
  How the platform behaves when COWS is down, a workspace setting or a security licence is
  missing, or the OAuth token has expired; in each case no payment is lost or posted twice.

  @SIT-CSL-001 @partner:caselle @capability:payment_posting
  Scenario: With COWS not running the payment is parked, then posts once when COWS is back
    Given the partner holds an account with a balance of 64.20
    And Caselle's COWS is not running
    When the payer pays 64.20 by ACH
    And the data pump runs
    Then every pump attempt failed with a reason naming "COWS"
    And the payment is parked with a reason naming "COWS"
    When COWS is running again
    And the data pump runs
    Then the partner received the payment of 64.20 by ACH for the account
    And the payment is posted exactly once

  @SIT-CSL-002 @partner:caselle @capability:payment_posting
  Scenario: A workspace not marked for online payments fails the payment with a hint naming the checkbox
    Given the partner holds an account with a balance of 52.00
    And the online-payments workspace is not marked "use for online payments"
    When the payer pays 52.00 by card
    And the data pump runs
    Then the payment failed with a hint naming "use for online payments"
    And the partner received the payment of 52.00 by card for the account

  @SIT-CSL-003 @partner:caselle @capability:payment_posting
  Scenario: An expired OAuth token is replaced once and the payment posts once
    Given the partner holds an account with a balance of 41.75
    And the OAuth token the partner issued has expired
    When the payer pays 41.75 by ACH
    And the data pump runs
    Then the platform fetched 1 new OAuth token
    And the partner received the payment 2 times, always with the same reference
    And the payment is posted exactly once

  @SIT-CSL-004 @partner:caselle @capability:rtdr_balance
  Scenario: Without security licence ARW4000 the account cannot be shown, and the platform names the licence
    Given the partner holds an account with a balance of 88.00
    And the partner lacks the security licence ARW4000
    When the payer opens the account on the payment route
    Then the payment route says the account cannot be shown, naming "ARW4000"

  @SIT-CSL-005 @partner:caselle @capability:payment_posting
  Scenario: Without security licence CRW40000 the payment fails, not parked, and the platform names the licence
    Given the partner holds an account with a balance of 19.99
    And the partner lacks the security licence CRW40000
    When the payer pays 19.99 by card
    And the data pump runs
    Then the payment failed with a reason naming "CRW40000"
    And the partner received the payment of 19.99 by card for the account

  @SIT-CSL-006 @partner:caselle @capability:rtdr_balance @capability:payment_posting
  Scenario: An OAuth token is fetched only when the one held expired, once, and kept for the calls after it
    Given the partner holds an account with a balance of 150.00
    When the payer opens the account on the payment route
    And the payer pays 40.00 by card
    And the payer pays 30.00 by ACH
    And the data pump runs
    Then the platform fetched no new OAuth token
    When the OAuth token the platform holds expires
    And the payer opens the account on the payment route again
    And the payer pays 25.00 by card
    And the payer pays 15.00 by ACH
    And the data pump runs
    Then the platform fetched 1 new OAuth token
    And the payment route shows a balance of 150.00
    And each payment is posted exactly once
