//! The walk's licensing phase (MS-RDPBCGR 1.3.1.1 phase 8, MS-RDPELE): the server's licensing
//! PDUs handed to the licensing client, the outcome recorded.

use super::*;

impl Walk {
    pub(super) fn on_licensing(
        &mut self,
        l: &LicensingPdu<'_>,
        rec: &mut Record,
        at: Duration,
    ) -> Step {
        self.facts.licensing.on_pdu(l);
        match self.facts.licensing.outcome {
            LicensingOutcome::ValidClient | LicensingOutcome::LicenseIssued => {
                let detail = if self.facts.licensing.outcome == LicensingOutcome::LicenseIssued {
                    "a license issued (New License Request, Platform Challenge Response)"
                } else if self.licensing.keys().is_some() {
                    "STATUS_VALID_CLIENT after a New License Request"
                } else {
                    "STATUS_VALID_CLIENT"
                };
                rec.stage(Stage::Licensing, StageStatus::Ok, at, detail);
                if self.stop_after <= Stage::Licensing {
                    return self.done();
                }
                self.state = State::Capabilities;
                Step::Wait
            }
            LicensingOutcome::Error => {
                let (code, transition) = self
                    .facts
                    .licensing
                    .error
                    .unwrap_or((LicenseErrorCode(0), Default::default()));
                let f = rules::licensing(code, transition).unwrap_or_else(|| {
                    transport::closed_by_server(format!("licensing error {code}"))
                });
                self.fail(rec, at, format!("{code} / {transition}"), f)
            }
            _ if l.msg_type == LicenseMsgType::LICENSE_REQUEST => {
                let LicensingBody::Other(body) = l.body else {
                    return Step::Wait;
                };
                match self.licensing.new_license_request(body, self.server_key.as_ref()) {
                    // Licensing PDUs go with the basic header, unencrypted (MS-RDPELE 2.2.2).
                    Some(pdu) => {
                        let data = with_header(SecurityFlags::SEC_LICENSE_PKT, &pdu);
                        Step::Send(vec![self.send_data(&data)])
                    }
                    None => self.fail(
                        rec,
                        at,
                        "License Request without a usable RSA key (no certificate, or a key under 256 or over 8,192 bits): it cannot be answered".to_owned(),
                        None,
                    ),
                }
            }
            _ if l.msg_type == LicenseMsgType::PLATFORM_CHALLENGE => {
                let LicensingBody::Other(body) = l.body else {
                    return Step::Wait;
                };
                match self.licensing.platform_challenge_response(body) {
                    Ok(pdu) => {
                        let data = with_header(SecurityFlags::SEC_LICENSE_PKT, &pdu);
                        Step::Send(vec![self.send_data(&data)])
                    }
                    Err(e) => self.fail(rec, at, format!("Platform Challenge: {e}"), None),
                }
            }
            _ => Step::Wait,
        }
    }
}
