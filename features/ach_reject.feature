@section:ach_reject
Feature: ACH rejects
  When the payer's bank returns an ACH payment (a NACHA R-code) the platform posts the
  return to the partner; a notification of change (C-code) is not a return and moves no money.
  Where the biller does not post returns, the return is still taken and held back: the
  partner receives nothing.

  @SIT-ACH-001 @capability:ach_reject_posting
  Scenario: An ACH return posts to the partner with its return code
    Given a posted ACH payment of 88.00
    When the bank returns the payment with code R01
    And the data pump runs
    Then the partner received the return of 88.00 with code R01 for the original payment
    And the return is posted exactly once

  @SIT-ACH-002 @capability:ach_reject_posting
  Scenario: A notification of change is not posted as a return
    Given a posted ACH payment of 50.00
    When the bank returns the payment with code C01
    And the data pump runs
    Then the partner received no return
    And the platform recorded C01 as a notification of change

  @SIT-ACH-003 @capability:payment_posting @withheld:ach_reject_posting
  Scenario: An ACH return the biller does not post is held back and never reaches the partner
    Given a posted ACH payment of 64.00
    When the bank returns the payment with code R01
    And the data pump runs
    Then the return is held back, naming the rule that keeps it from the partner
    And the partner received no return

  @SIT-ACH-004 @capability:ach_reject_posting
  Scenario: A return of one of several payments posts that payment's amount and code, on its account
    Given the partner holds these accounts:
      | account | balance |
      | A       | 88.00   |
      | B       | 12.34   |
    When the payer makes these payments:
      | account | amount | method |
      | A       | 88.00  | ACH    |
      | B       | 12.34  | ACH    |
    And the data pump runs
    And the bank returns the payment on account A with code R10
    And the data pump runs
    Then the partner received the return of 88.00 with code R10 for the payment on account A
    And the partner received nothing but its payment for account B
    And the return is posted exactly once

  @SIT-ACH-005 @capability:payment_posting
  Scenario: A bank return of a card payment is refused and nothing reaches the partner
    Given a posted card payment of 42.00
    When the bank tries to return the payment with code R01
    And the data pump runs
    Then the return is refused, naming the card payment
    And the partner received no return

  @SIT-ACH-006 @capability:ach_reject_posting @transport:file
  Scenario: An ACH return reaches the partner in the next day's payment file, taking the money back
    Given a posted ACH payment of 52.00
    When the bank returns the payment with code R01
    And the data pump runs
    Then the partner received the return of 52.00 with code R01 for the original payment
    And the partner fetched 2 payment files
    And every payment file the partner fetched has a trailer whose count and total match its lines
