//! Test hooks on `FakeProviders`: play the customer (pay a checkout, an invoice, a paybill)
//! and script what the providers will do next.

use super::lnbits::OutgoingOutcome;
use super::mpesa::{B2cOutcome, C2bOutcome, C2bPayment, StkMatch, StkOutcome};
use super::paystack::{ChargeOutcome, RefundOutcome, TransferOutcome};
use super::server::FakeProviders;

impl FakeProviders {
    /// The buyer finishes Paystack checkout for `reference`: success sends `charge.success`.
    /// Errors if the reference is unknown or was already completed.
    pub fn paystack_complete_charge(
        &self,
        reference: &str,
        outcome: ChargeOutcome,
    ) -> anyhow::Result<()> {
        self.paystack.complete_charge(reference, outcome)
    }

    /// The next Paystack transfer created ends this way (queued, first in first out).
    pub fn paystack_script_next_transfer(&self, outcome: TransferOutcome) {
        self.paystack.store().transfer_script.push(outcome);
    }

    /// The next Paystack refund to settle ends this way.
    pub fn paystack_script_next_refund(&self, outcome: RefundOutcome) {
        self.paystack.store().refund_script.push(outcome);
    }

    /// While `lagging`, `GET /refund/{id}` answers 404 "Refund not found" for every refund, as
    /// Paystack does for an id it does not know (yet); List Refunds still finds them.
    pub fn paystack_refund_fetch_lags(&self, lagging: bool) {
        self.paystack
            .refund_fetch_lags
            .store(lagging, std::sync::atomic::Ordering::Relaxed);
    }

    /// The next STK push ends this way (queued, first in first out; before standing rules).
    pub fn mpesa_script_next_stk(&self, outcome: StkOutcome) {
        self.mpesa.store().stk_script.push(outcome);
    }

    /// Every STK push matching `when` ends this way, unless a queued outcome comes first.
    /// Earlier rules win.
    pub fn mpesa_script_stk_when(&self, when: StkMatch, outcome: StkOutcome) {
        self.mpesa.store().stk_rules.push((when, outcome));
    }

    /// The next B2C payment ends this way.
    pub fn mpesa_script_next_b2c(&self, outcome: B2cOutcome) {
        self.mpesa.store().b2c_script.push(outcome);
    }

    /// The next B2C payment to `msisdn` (`2547…`) ends this way, before anything queued.
    pub fn mpesa_script_next_b2c_to(&self, msisdn: &str, outcome: B2cOutcome) {
        self.mpesa.store().b2c_to.push((msisdn.to_owned(), outcome));
    }

    /// A customer pays a paybill: validation callback (if registered, and its answer is
    /// honoured), then the record kept for Pull, then the confirmation callback.
    pub async fn mpesa_simulate_c2b(&self, payment: C2bPayment) -> anyhow::Result<C2bOutcome> {
        self.mpesa.simulate_c2b(payment).await
    }

    /// The payer pays an LNbits invoice: it turns paid and its webhook is sent once.
    /// Errors for unknown, settled or expired invoices.
    pub fn lnbits_pay_invoice(&self, payment_hash: &str) -> anyhow::Result<()> {
        self.lnbits.pay_invoice(payment_hash)
    }

    /// The next outgoing LNbits payment ends this way.
    pub fn lnbits_script_next_payment(&self, outcome: OutgoingOutcome) {
        self.lnbits.store().outgoing_script.push(outcome);
    }
}
