@section:configuration
Feature: Biller configuration
  Before any transaction, the biller's platform options and advanced settings are the ones the
  partner's integration needs, each named with the value the platform holds.

  @SIT-CFG-001 @capability:configuration
  Scenario: The biller's options and settings are the ones the partner's integration needs
    When the platform's configuration of the biller is read
    Then every option and setting the partner's integration needs has the value it needs
