@section:cloudpay
Feature: CloudPay
  A vendor's application (permits, licences, recreation) shows a Pay Now button that hands the payer
  to the platform's hosted payment page. After payment the platform shows a printable receipt, posts
  the outcome back to the vendor's PostBackURL, server to server, and returns the payer to the
  vendor's ReturnURL. CloudPay v2 applications create the payment through the platform's API with the
  biller's API key; v1 applications send the payer's browser with the payment in the link.

  @SIT-CP-001 @capability:cloudpay @cloudpay:v2
  Scenario: The vendor's application finds the biller active for CloudPay
    When the vendor's application asks the platform whether the biller is active
    Then the platform answers that the biller is active for CloudPay v2

  @SIT-CP-002 @capability:cloudpay
  Scenario: Pay Now opens the platform's hosted payment page for the invoice
    When the vendor's application starts a payment of 80.00 for an invoice of the biller
    Then the payer is on the platform's hosted payment page for 80.00

  @SIT-CP-003 @capability:cloudpay
  Scenario: An approved card payment gives a receipt, a postback and the way back
    Given the vendor's application started a payment of 80.00 for an invoice of the biller
    When the payer pays with the approving test card
    Then the payer sees a printable receipt for 80.00 with a confirmation number
    And the vendor receives one postback approving the payment
    And the postback carries the payment's invoices, amount, reference and GUID
    When the payer returns to the vendor's application
    Then the vendor's application sees the payer come back

  @SIT-CP-004 @capability:cloudpay
  Scenario: A declined card charges nothing, and the vendor hears so
    Given the vendor's application started a payment of 45.10 for an invoice of the biller
    When the payer pays with the declining test card
    Then the payer sees that the payment was declined
    And the vendor receives one postback declining the payment
    And the postback carries the payment's invoices, amount, reference and GUID

  @SIT-CP-005 @capability:cloudpay @cloudpay:v2
  Scenario: One payment for an invoice of each of the biller's invoice types
    Given the vendor's application started one payment of 25.00 for an invoice of each of the biller's invoice types
    When the payer pays with the approving test card
    Then the vendor receives one postback approving the payment
    And the postback carries the payment's invoices, amount, reference and GUID

  @SIT-CP-006 @capability:cloudpay
  Scenario: The postback is sent again while the vendor answers with a server error
    Given the vendor's application started a payment of 60.00 for an invoice of the biller
    And the vendor's application answers the postback with a server error 2 times
    When the payer pays with the approving test card
    Then the vendor receives one postback approving the payment, at attempt 3

  @SIT-CP-007 @capability:cloudpay
  Scenario: The postback is sent again when the vendor answers later than the platform waits
    Given the vendor's application started a payment of 33.00 for an invoice of the biller
    And the vendor's application answers the postback later than the platform waits, once
    When the payer pays with the approving test card
    Then the vendor receives 2 postbacks approving the payment, each with the payment's GUID

  @SIT-CP-008 @capability:cloudpay
  Scenario: A forged postback, for a payment the platform never took
    When someone sends the vendor a postback approving a payment the platform never took
    Then the vendor's answer to the forged postback is in the workbook
    And the platform took no payment and sent no postback

  @SIT-CP-009 @capability:cloudpay
  Scenario: A replayed postback, for a payment the vendor already heard of
    Given the vendor's application started a payment of 52.00 for an invoice of the biller
    And the payer paid with the approving test card
    When someone sends the vendor the same postback again
    Then the vendor's answer to the replayed postback is in the workbook
    And the platform took the payment once and posted it back once

  @SIT-CP-010 @capability:cloudpay
  Scenario: Pay pressed twice charges the card once
    Given the vendor's application started a payment of 41.75 for an invoice of the biller
    When the payer pays with the approving test card
    And the payer presses Pay again
    Then the platform took the payment once and posted it back once

  @SIT-CP-011 @capability:cloudpay @cloudpay:v2
  Scenario: A payment started with an unknown, a retired or no API key is refused
    When the vendor's application starts a payment of 20.00 for an invoice of the biller with an unknown API key
    Then the platform refuses it as unauthorized in its error shape, and takes no payment
    When the vendor's application starts a payment of 20.00 for an invoice of the biller with the biller's retired API key
    Then the platform refuses it as unauthorized in its error shape, and takes no payment
    When the vendor's application starts a payment of 20.00 for an invoice of the biller with no API key
    Then the platform refuses it as unauthorized in its error shape, and takes no payment

  @SIT-CP-012 @capability:cloudpay
  Scenario: A payment for an invoice type the biller does not have is refused
    When the vendor's application starts a payment of 20.00 for an invoice of a type the biller does not have
    Then the platform refuses the payment, naming the invoice type, and takes no payment

  @SIT-CP-013 @capability:cloudpay @cloudpay:v2
  Scenario: Amounts sent as text are taken as amounts
    When the vendor's application starts a payment of 19.99 for an invoice of the biller, the amount as text
    Then the payer is on the platform's hosted payment page for 19.99
