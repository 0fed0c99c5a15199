@section:payment_posting
Feature: Payment posting (data pump)
  Every payment and credit taken on the platform reaches the partner exactly once, even
  when the partner is slow, drops the connection or is down for a while.

  @SIT-PAY-001 @capability:payment_posting
  Scenario: A card payment posts to the partner
    Given the partner holds an account with a balance of 120.00
    When the payer pays 45.10 by card
    And the data pump runs
    Then the partner received the payment of 45.10 by card for the account
    And the payment is posted exactly once

  @SIT-PAY-002 @capability:payment_posting
  Scenario: An ACH payment posts to the partner
    Given the partner holds an account with a balance of 120.00
    When the payer pays 120.00 by ACH
    And the data pump runs
    Then the partner received the payment of 120.00 by ACH for the account
    And the payment is posted exactly once

  @SIT-PAY-003 @capability:credit_posting
  Scenario: A credit posts as the partner's credit transaction
    Given the partner holds an account with a balance of 80.00
    When the biller credits 12.00 to the account
    And the data pump runs
    Then the partner received a credit of 12.00 coded as the partner's credit transaction type
    And the credit is posted exactly once

  @SIT-PAY-004 @capability:posconnect
  Scenario: A POSConnect payment reaches the partner as its profile says
    Given the partner holds an account with a balance of 30.00
    When the payer pays 30.00 by card at a POSConnect terminal
    And the data pump runs
    Then the POSConnect payment is pumped or held back exactly as the partner profile says

  @SIT-PAY-005 @capability:payment_posting
  Scenario: A partner timeout is retried and the payment posts once
    Given the partner holds an account with a balance of 60.00
    And the partner's payment posting times out once
    When the payer pays 60.00 by ACH
    And the data pump runs
    Then the partner received the payment 2 times, always with the same reference
    And the payment is posted exactly once

  @SIT-PAY-006 @capability:payment_posting
  Scenario: A dropped connection is retried and the payment posts once
    Given the partner holds an account with a balance of 33.00
    And the partner's payment posting drops the connection 2 times
    When the payer pays 33.00 by card
    And the data pump runs
    Then the partner received the payment 3 times, always with the same reference
    And the payment is posted exactly once

  @SIT-PAY-007 @capability:payment_posting
  Scenario: A payment the partner cannot take is parked, then posts once when it is back
    Given the partner holds an account with a balance of 75.25
    And the partner's payment posting answers with a server error until it recovers
    When the payer pays 75.25 by card
    And the data pump runs
    Then the payment is parked with a reason naming "HTTP 503"
    When the partner recovers
    And the data pump runs
    Then the payment is posted exactly once
