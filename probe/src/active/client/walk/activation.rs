//! The walk's connection activation and finalization (MS-RDPBCGR 1.3.1.1 phases 9 and 10):
//! the Demand Active answered with the Confirm Active, the server's half of the finalization,
//! Set Error Info, the logon notification, a Server Redirection.

use super::*;

impl Walk {
    /// A Share Control PDU from the server: the Demand Active, the Font Map, Set Error Info.
    pub(super) fn on_share_control(
        &mut self,
        sc: &ShareControlPdu<'_>,
        rec: &mut Record,
        at: Duration,
    ) -> Step {
        match ShareControlFacts::from_pdu(sc) {
            ShareControlFacts::Redirect(facts) => self.on_redirect(facts, rec, at),
            ShareControlFacts::DemandActive(Some((share_id, c)))
                if matches!(self.state, State::Licensing | State::Capabilities) =>
            {
                let detail = format!(
                    "Demand Active: {}x{}, {} bpp, {} capability sets",
                    c.desktop_width.unwrap_or(0),
                    c.desktop_height.unwrap_or(0),
                    c.color_depth.unwrap_or(0),
                    c.sets.len()
                );
                self.facts.capabilities = Some(c);
                rec.stage(Stage::Capabilities, StageStatus::Ok, at, detail);
                if self.stop_after <= Stage::Capabilities {
                    return self.done();
                }
                // Confirm Active, then the client's half of the finalization (MS-RDPBCGR
                // 1.3.1.1 phase 10); the server's Font Map ends it.
                self.state = State::Finalizing;
                self.share_id = share_id;
                let frames = finalization(share_id, self.user)
                    .iter()
                    .map(|data| self.send_pdu(SecurityFlags::empty(), data))
                    .collect();
                Step::Send(frames)
            }
            ShareControlFacts::FontMap if self.state == State::Finalizing => {
                rec.stage(
                    Stage::Finalization,
                    StageStatus::Ok,
                    at,
                    "Synchronize, Control, Font List / Font Map",
                );
                if let Some(l) = &self.logon {
                    rec.stage(
                        Stage::Active,
                        StageStatus::Ok,
                        at,
                        format!("the session of {}", l.display),
                    );
                    self.state = State::LoggingOn;
                    self.logon_until = at + LOGON_WAIT;
                    return Step::WaitUpTo(LOGON_WAIT);
                }
                rec.stage(
                    Stage::Active,
                    StageStatus::Ok,
                    at,
                    "the logon screen (no credentials)",
                );
                self.leave()
            }
            ShareControlFacts::Logon(logon) if self.state == State::LoggingOn => {
                rec.amend(
                    Stage::Active,
                    StageStatus::Ok,
                    at,
                    &format!("logon notification ({})", logon.info_type),
                );
                self.facts.logon = Some(logon);
                self.leave()
            }
            ShareControlFacts::ErrorInfo(e) => {
                self.facts.error_info = Some(e);
                // After licensing it ends the capabilities stage.
                let stage = self.stage();
                let f = rules::set_error_info(e, stage);
                let status = if rules::error_info_stops(&f) {
                    rec.stop(stage);
                    StageStatus::Failed
                } else {
                    StageStatus::Ok
                };
                rec.amend(stage, status, at, &format!("Set Error Info {e}"));
                rec.findings.push(f);
                self.done()
            }
            _ => Step::Wait,
        }
    }

    /// A Server Redirection instead of the Demand Active: recorded and reported, never followed;
    /// the walk ends there (the stage it came in is done: the server answered).
    pub(super) fn on_redirect(
        &mut self,
        facts: RedirectFacts,
        rec: &mut Record,
        at: Duration,
    ) -> Step {
        let stage = self.stage();
        rec.stage(
            stage,
            StageStatus::Ok,
            at,
            format!(
                "Server Redirection to {} (not followed)",
                facts.target().unwrap_or("no target named")
            ),
        );
        // Not a failure: mstsc would follow it (rdprobe does not), so no `stopped_at`.
        rec.findings.push(rules::redirected(&facts, stage));
        self.facts.redirect = Some(facts);
        self.done()
    }
}
