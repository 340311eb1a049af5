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
        match sc.pdu_type() {
            // Enhanced Security Server Redirection PDU (2.2.13.3.1): two pad bytes first.
            PduType::PDUTYPE_SERVER_REDIR_PKT => {
                self.on_redirect(sc.body.get(2..).unwrap_or_default(), rec, at)
            }
            PduType::PDUTYPE_DEMANDACTIVEPDU
                if matches!(self.state, State::Licensing | State::Capabilities) =>
            {
                let Ok(d) = rdp_proto::decode::<DemandActive>(sc.body) else {
                    return Step::Wait;
                };
                let c = CapabilityFacts::from_demand_active(&d);
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
                self.share_id = d.share_id;
                let frames = finalization(d.share_id, self.user)
                    .iter()
                    .map(|data| self.send_pdu(SecurityFlags::empty(), data))
                    .collect();
                Step::Send(frames)
            }
            PduType::PDUTYPE_DATAPDU => {
                let Ok(sd) = rdp_proto::decode::<ShareDataPdu>(sc.body) else {
                    return Step::Wait;
                };
                if sd.pdu_type2 == PduType2::PDUTYPE2_FONTMAP && self.state == State::Finalizing {
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
                    return self.leave();
                }
                if sd.pdu_type2 == PduType2::PDUTYPE2_SAVE_SESSION_INFO
                    && self.state == State::LoggingOn
                {
                    let info_type = sd
                        .body
                        .get(..4)
                        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
                    let logon = LogonFacts::from_info_type(info_type);
                    rec.amend(
                        Stage::Active,
                        StageStatus::Ok,
                        at,
                        &format!("logon notification ({})", logon.info_type),
                    );
                    self.facts.logon = Some(logon);
                    return self.leave();
                }
                if sd.pdu_type2 != PduType2::PDUTYPE2_SET_ERROR_INFO_PDU {
                    return Step::Wait;
                }
                let Ok(e) = rdp_proto::decode::<SetErrorInfo>(sd.body) else {
                    return Step::Wait;
                };
                if e.error_info.0 == 0 {
                    return Step::Wait;
                }
                self.facts.error_info = Some(e.error_info);
                // After licensing it ends the capabilities stage.
                let stage = self.stage();
                let f = rules::set_error_info(e.error_info, stage);
                let status = if rules::error_info_stops(&f) {
                    rec.stop(stage);
                    StageStatus::Failed
                } else {
                    StageStatus::Ok
                };
                rec.amend(
                    stage,
                    status,
                    at,
                    &format!("Set Error Info {}", e.error_info),
                );
                rec.findings.push(f);
                self.done()
            }
            _ => Step::Wait,
        }
    }

    /// A Server Redirection instead of the Demand Active: recorded and reported, never followed;
    /// the walk ends there (the stage it came in is done: the server answered).
    pub(super) fn on_redirect(&mut self, bytes: &[u8], rec: &mut Record, at: Duration) -> Step {
        let Ok(r) = rdp_proto::decode_prefix::<ServerRedirection>(bytes).map(|(_, r)| r) else {
            return Step::Wait;
        };
        let facts = RedirectFacts::from_pdu(&r);
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
