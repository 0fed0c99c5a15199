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

  @SIT-PAY-005 @capability:payment_posting @transport:api
  Scenario: A partner timeout is retried and the payment posts once
    Given the partner holds an account with a balance of 60.00
    And the partner's payment posting times out once
    When the payer pays 60.00 by ACH
    And the data pump runs
    Then the partner received the payment 2 times, always with the same reference
    And the payment is posted exactly once

  @SIT-PAY-006 @capability:payment_posting @transport:api
  Scenario: A dropped connection is retried and the payment posts once
    Given the partner holds an account with a balance of 33.00
    And the partner's payment posting drops the connection 2 times
    When the payer pays 33.00 by card
    And the data pump runs
    Then the partner received the payment 3 times, always with the same reference
    And the payment is posted exactly once

  @SIT-PAY-007 @capability:payment_posting @transport:api
  Scenario: A payment the partner cannot take is parked, then posts once when it is back
    Given the partner holds an account with a balance of 75.25
    And the partner's payment posting answers with a server error until it recovers
    When the payer pays 75.25 by card
    And the data pump runs
    Then the payment is parked with a reason naming "HTTP 503"
    When the partner recovers
    And the data pump runs
    Then the payment is posted exactly once

  @SIT-PAY-008 @capability:payment_posting
  Scenario: Two payments of the same amount on one account both post, each once
    Given the partner holds an account with a balance of 120.00
    When the payer pays 40.00 by card
    And the payer pays 40.00 by card
    And the data pump runs
    Then the partner received exactly these postings:
      | posting | amount | method |
      | payment | 40.00  | card   |
      | payment | 40.00  | card   |
    And each payment is posted exactly once

  @SIT-PAY-009 @capability:payment_posting @capability:credit_posting
  Scenario: A payment and a credit on one account each post as what they are
    Given the partner holds an account with a balance of 80.00
    When the payer pays 30.00 by card
    And the biller credits 12.00 to the account
    And the data pump runs
    Then the partner received exactly these postings:
      | posting | amount | method |
      | payment | 30.00  | card   |
      | credit  | 12.00  |        |
    And the payment is posted exactly once
    And the credit is posted exactly once

  @SIT-PAY-010 @capability:payment_posting @capability:rtdr_balance
  Scenario: Payments on two accounts open at once each reach their own account
    Given the partner holds these accounts:
      | account | balance |
      | A       | 150.00  |
      | B       | 75.50   |
    When the payer opens account A on the payment route
    And the payer opens account B on the payment route
    And the payer pays 150.00 by card on account A
    And the payer pays 20.25 by ACH on account B
    And the data pump runs
    Then the partner received exactly these postings:
      | account | posting | amount | method |
      | A       | payment | 150.00 | card   |
      | B       | payment | 20.25  | ACH    |
    And each payment is posted exactly once

  @SIT-PAY-011 @capability:payment_posting
  Scenario: Amounts a binary fraction cannot hold post to the cent, in full or in part
    Given the partner holds these accounts:
      | account | balance    |
      | A       | 0.10       |
      | B       | 0.29       |
      | C       | 20.00      |
      | D       | 2000000.00 |
      | E       | 0.01       |
    When the payer makes these payments:
      | account | amount     | method |
      | A       | 0.10       | card   |
      | B       | 0.29       | ACH    |
      | C       | 19.99      | card   |
      | D       | 1234567.89 | ACH    |
      | E       | 0.01       | card   |
    And the data pump runs
    Then the partner received exactly these postings:
      | account | posting | amount     | method |
      | A       | payment | 0.10       | card   |
      | B       | payment | 0.29       | ACH    |
      | C       | payment | 19.99      | card   |
      | D       | payment | 1234567.89 | ACH    |
      | E       | payment | 0.01       | card   |
    And each payment is posted exactly once

  @SIT-PAY-012 @capability:payment_posting
  Scenario: The largest amount the partner takes posts to the cent, and one cent more is refused
    Given the partner holds an account with a balance of 120.00
    When the payer pays the largest amount the partner takes by ACH
    And the data pump runs
    Then the partner received the largest amount the partner takes by ACH for the account
    And the payment is posted exactly once
    And a payment of one cent more than the partner takes is refused

  @SIT-PAY-013 @capability:payment_posting
  Scenario: Amounts the platform cannot post to the cent are refused and never reach the partner
    Given the partner holds an account with a balance of 120.00
    When the payer tries to pay 10.005 by card
    And the payer tries to pay 0.001 by ACH
    And the payer tries to pay 0.00 by card
    And the data pump runs
    Then the platform refused every payment the payer tried
    And the partner received nothing for the account

  @SIT-PAY-014 @capability:payment_posting @transport:api
  Scenario: A payment the partner refuses as a bad request fails at once, not retried or parked
    Given the partner holds an account with a balance of 58.40
    And the partner refuses the payment posting as a bad request
    When the payer pays 58.40 by card
    And the data pump runs
    Then the payment failed with a reason naming "HTTP 400"
    And the partner received the payment of 58.40 by card for the account

  @SIT-PAY-015 @capability:payment_posting @transport:api
  Scenario: A payment whose posting the partner refuses for its credentials fails at once, not retried or parked
    Given the partner holds an account with a balance of 66.70
    And the partner refuses the platform's credentials for the payment posting
    When the payer pays 66.70 by ACH
    And the data pump runs
    Then the payment failed with a reason naming "HTTP 403"
    And the partner received the payment of 66.70 by ACH for the account

  @SIT-PAY-016 @capability:credit_posting
  Scenario: Credit amounts the platform cannot post to the cent are refused and never reach the partner
    Given the partner holds an account with a balance of 80.00
    When the biller tries to credit 12.005 to the account
    And the biller tries to credit 0.00 to the account
    And the data pump runs
    Then the platform refused every credit the biller tried
    And the partner received nothing for the account

  @SIT-PAY-020 @withheld:credit_posting
  Scenario: A credit the biller does not post is held back and never reaches the partner
    Given the partner holds an account with a balance of 80.00
    When the biller credits 12.00 to the account
    And the data pump runs
    Then the credit is held back, naming the rule that keeps it from the partner
    And the partner received nothing for the account

  @SIT-PAY-030 @capability:payment_posting @capability:credit_posting @transport:file
  Scenario: A day's payments and credits reach the partner in one payment file whose trailer matches its lines
    Given the partner holds these accounts:
      | account | balance |
      | A       | 120.00  |
      | B       | 80.00   |
    When the payer pays 45.10 by card on account A
    And the payer pays 30.00 by ACH on account B
    And the biller credits 12.00 to the account
    And the data pump runs
    Then the partner fetched 1 payment file, of 3 postings totalling 87.10
    And every payment file the partner fetched has a trailer whose count and total match its lines
    And each payment is posted exactly once
    And the credit is posted exactly once
