@section:partner_callbacks
Feature: Partner callbacks
  The partner calls the platform back on a URL carrying the biller's API key (BK) when an
  account changes; only an active key is accepted, and a refused call changes nothing.

  @SIT-CB-001 @partner:caselle @capability:partner_callbacks
  Scenario: A callback with the biller's API key refreshes the account
    Given the partner holds an account with a balance of 64.20
    When the partner calls the platform back about the account with the biller's API key
    Then the platform accepts the callback
    And the platform refreshed the account to a balance of 64.20
    And the platform asked the partner for that account's balance 1 time

  @SIT-CB-005 @partner:caselle @capability:partner_callbacks @capability:rtdr_balance
  Scenario: After a callback about a changed account, the payer sees the partner's new balance
    Given the partner holds an account with a balance of 64.20
    When the payer opens the account on the payment route
    And the partner's balance for the account changes to 20.00
    And the partner calls the platform back about the account with the biller's API key
    Then the platform accepts the callback
    And the platform refreshed the account to a balance of 20.00
    When the payer opens the account on the payment route again
    Then the payment route shows a balance of 20.00
    And the platform asked the partner for that account's balance 3 times

  @SIT-CB-002 @partner:caselle @capability:partner_callbacks
  Scenario: A callback with an unknown API key is refused and changes nothing
    Given the partner holds an account with a balance of 64.20
    When the partner calls the platform back about the account with an unknown API key
    Then the platform refuses the callback as unauthorized and processes nothing
    And the log shows the callback refused as "unknown API key" with the key masked

  @SIT-CB-003 @partner:caselle @capability:partner_callbacks
  Scenario: A callback with the biller's retired API key is refused and changes nothing
    Given the partner holds an account with a balance of 64.20
    When the partner calls the platform back about the account with the biller's retired API key
    Then the platform refuses the callback as unauthorized and processes nothing
    And the log shows the callback refused as "inactive API key" with the key masked

  @SIT-CB-004 @partner:caselle @capability:partner_callbacks
  Scenario: A callback without an API key is refused and changes nothing
    Given the partner holds an account with a balance of 64.20
    When the partner calls the platform back about the account without an API key
    Then the platform refuses the callback as unauthorized and processes nothing
    And the log shows the callback refused as "no API key"
