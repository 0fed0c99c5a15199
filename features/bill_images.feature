@section:bill_presentment
Feature: Bill images
  The payer opens the image of a bill; the platform fetches it from the partner.

  @SIT-IMG-001 @capability:bill_images
  Scenario: The payer's bill image comes from the partner as a PDF
    Given the partner has an invoice file for today with 1 bill
    And the partner uploads the invoice file to the platform's sFTP inbox
    And the platform imports its sFTP inbox
    When the payer opens the image of the bill
    Then the platform shows a PDF document
    And the platform asked the partner for that bill's image 1 time
