@section:void
Feature: Voids
  A void cancels a payment before settlement: the partner hears of it once, or not at
  all when the payment never reached it.

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
