@section:void
Feature: Voids
  A void cancels a payment or credit before settlement: the partner hears of it once, or
  not at all when the payment never reached it. A payment is reversed at most once: a
  returned payment cannot be voided, and a return of a voided payment is not posted.

  @SIT-VOID-001 @capability:void_posting
  Scenario: Voiding a posted payment sends one void to the partner
    Given a posted card payment of 25.00
    When the biller voids the payment
    And the data pump runs
    Then the partner received 1 void for the payment's reference
    And the void is posted exactly once

  @SIT-VOID-002 @capability:void_posting
  Scenario: Voiding a payment before the pump runs sends nothing to the partner
    Given the partner holds an account with a balance of 25.00
    When the payer pays 25.00 by card
    And the biller voids the payment
    And the data pump runs
    Then the partner received no payment and no void

  @SIT-VOID-003 @capability:void_posting
  Scenario: A payment voided and then returned by the bank is reversed only once
    Given a posted ACH payment of 52.00
    When the biller voids the payment
    And the bank returns the payment with code R01
    And the data pump runs
    Then the partner received 1 void for the payment's reference
    And the return is recorded, not posted, because the payment was already voided

  @SIT-VOID-004 @capability:void_posting
  Scenario: A payment the bank returned cannot be voided
    Given a posted ACH payment of 47.00
    When the bank returns the payment with code R01
    And the biller tries to void the payment
    And the data pump runs
    Then the void is refused, naming the payment's return
    And the partner received no void, and the return of 47.00 with code R01 where the biller posts returns

  @SIT-VOID-005 @capability:void_posting
  Scenario: A payment voided twice is voided once
    Given a posted card payment of 31.00
    When the biller voids the payment
    And the biller tries to void the payment again
    And the data pump runs
    Then the second void is refused, naming the first void
    And the partner received 1 void for the payment's reference
    And the void is posted exactly once

  @SIT-VOID-006 @capability:void_posting @capability:credit_posting
  Scenario: A credit voided twice is voided once
    Given a posted credit of 18.00
    When the biller voids the credit
    And the biller tries to void the credit again
    And the data pump runs
    Then the second void is refused, naming the first void
    And the partner received 1 void for the credit's reference
    And the void is posted exactly once

  @SIT-VOID-007 @capability:void_posting @transport:api
  Scenario: A payment parked while the partner is down and then voided is never posted
    Given the partner holds an account with a balance of 58.00
    And the partner's payment posting answers with a server error until it recovers
    When the payer pays 58.00 by card
    And the data pump runs
    Then the payment is parked with a reason naming "HTTP 503"
    And the partner received the payment 3 times, always with the same reference
    When the biller voids the payment
    And the partner recovers
    And the data pump runs
    Then the payment is cancelled and was never posted
    And the partner received the payment 3 times, always with the same reference
    And the partner received no void

  @SIT-VOID-008 @capability:void_posting
  Scenario: Voiding one of several payments voids that payment's amount, on its account
    Given the partner holds these accounts:
      | account | balance |
      | A       | 25.00   |
      | B       | 61.70   |
    When the payer makes these payments:
      | account | amount | method |
      | A       | 25.00  | card   |
      | B       | 61.70  | card   |
    And the data pump runs
    And the biller voids the payment on account A
    And the data pump runs
    Then the partner received the void of 25.00 for the payment on account A
    And the partner received nothing but its payment for account B
    And the void is posted exactly once
