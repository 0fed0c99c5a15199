@section:account_changes
Feature: Account changes (change log)
  Paperless and autopay enrollment and cancellation, phone and email changes reach the
  partner through the data pump, each on its own call with its own alert code and value.
  A change the partner does not take is still made on the platform, and held back.

  @SIT-CHG-001 @capability:paperless_change
  Scenario: Paperless enrollment reaches the partner
    Given the partner holds an account with a balance of 40.00
    When the payer enrolls the account in paperless billing
    And the data pump runs
    Then the partner accepted the paperless change with its alert code

  @SIT-CHG-002 @capability:autopay_change
  Scenario: Autopay enrollment reaches the partner
    Given the partner holds an account with a balance of 40.00
    When the payer enrolls the account in autopay
    And the data pump runs
    Then the partner accepted the autopay change with its alert code

  @SIT-CHG-003 @capability:paperless_change @capability:autopay_change @transport:api
  Scenario: Every change-log call carries its own program's alert code
    Given the partner holds an account with a balance of 40.00
    When the payer enrolls the account in paperless billing
    And the payer enrolls the account in autopay
    And the data pump runs
    Then each change reached the partner on its own program's call with that program's alert code

  @SIT-CHG-004 @capability:phone_change
  Scenario: A phone number change reaches the partner
    Given the partner holds an account with a balance of 40.00
    When the payer changes the account's phone number
    And the data pump runs
    Then the partner accepted the phone change

  @SIT-CHG-005 @capability:email_change
  Scenario: An email change reaches the partner
    Given the partner holds an account with a balance of 40.00
    When the payer changes the account's email address
    And the data pump runs
    Then the partner accepted the email change

  @SIT-CHG-006 @capability:paperless_change
  Scenario: Cancelling paperless billing reaches the partner as an un-enrolment
    Given the partner holds an account with a balance of 40.00
    When the payer cancels paperless billing for the account
    And the data pump runs
    Then the partner accepted the paperless change with its alert code

  @SIT-CHG-007 @capability:autopay_change
  Scenario: Cancelling autopay reaches the partner as an un-enrolment
    Given the partner holds an account with a balance of 40.00
    When the payer cancels autopay for the account
    And the data pump runs
    Then the partner accepted the autopay change with its alert code

  @SIT-CHG-008 @withheld:phone_change
  Scenario: A phone number change the partner does not take is made, and nothing reaches the partner
    Given the partner holds an account with a balance of 40.00
    When the payer changes the account's phone number
    And the data pump runs
    Then the phone change is held back, naming the rule that keeps it from the partner
    And the partner received nothing for the account

  @SIT-CHG-009 @withheld:email_change
  Scenario: An email address change the partner does not take is made, and nothing reaches the partner
    Given the partner holds an account with a balance of 40.00
    When the payer changes the account's email address
    And the data pump runs
    Then the email change is held back, naming the rule that keeps it from the partner
    And the partner received nothing for the account
