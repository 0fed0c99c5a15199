@section:cloudpay
Feature: CloudPay
  A partner application (permits, licences) hands the payer to the platform's hosted
  payment page with a Pay Now button.

  @SIT-CP-001 @capability:cloudpay
  Scenario: A partner application starts a hosted payment
    Given the partner holds an account with a balance of 80.00
    When the partner's application starts a CloudPay payment of 80.00 for the account
    Then the platform answers with its hosted payment page for that payment
