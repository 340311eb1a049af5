//! The connector's MCS connect (MS-RDPBCGR 1.3.1.1 phase 3) and the start of the walk: the
//! Connect-Initial, the Connect-Response, Standard RDP Security's keys, the Client Info's logon.

use super::*;

impl Connector<'_> {
    /// The stage an MCS connect's failure counts against.
    pub(super) fn mcs_stage(&self) -> Stage {
        match self.cfg.mode {
            Mode::Tls { .. } => Stage::Mcs,
            Mode::RdpSecurity => Stage::Channels,
        }
    }

    /// The Connect-Initial offering `methods` (the Confirm selected `selected`), unless
    /// `--stop-after` ends the connection before the walk.
    pub(super) fn mcs(
        &mut self,
        methods: EncryptionMethods,
        selected: Option<SecurityProtocol>,
        over: Over,
        rec: &mut Record,
    ) {
        if self.cfg.stop_after <= Stage::Mcs {
            self.state = State::Done;
            return;
        }
        if self.mcs_stage() == Stage::Mcs {
            rec.begin(Stage::Mcs);
        }
        match pdu::connect_initial(methods, selected) {
            Ok(ci) => {
                self.out.push(ci);
                self.state = State::Mcs { over };
            }
            Err(_) => self.state = State::Done,
        }
    }

    /// The Connect-Response: the mcs stage (on the TLS connection), then the walk.
    pub(super) fn on_connect_response(
        &mut self,
        frame: &[u8],
        over: Over,
        rec: &mut Record,
        f: &mut ProbeFacts,
        now: Now,
    ) {
        let stage = self.mcs_stage();
        match ConnectResponseFacts::parse(frame) {
            Some(cr) if cr.result.0 == 0 => {
                if stage == Stage::Mcs {
                    let version = cr.version.map_or_else(|| "?".to_owned(), |v| v.label());
                    let detail = format!("Connect-Response, RDP {version}");
                    rec.stage(Stage::Mcs, StageStatus::Ok, now.at, detail);
                }
                self.start_walk(&cr, over, rec, f, now);
            }
            Some(cr) => {
                let why = format!("Connect-Response {}", cr.result);
                rec.stage(stage, StageStatus::Failed, now.at, why.clone());
                rec.stop(stage);
                rec.findings.push(transport::closed_by_server(format!(
                    "the server refused the MCS connect: {why}"
                )));
            }
            None => {
                let e = ReadFailure::Unexpected("not a Connect-Response".into());
                failed(rec, stage, &e, now.at);
            }
        }
    }

    /// The walk starts after a Connect-Response: Standard RDP Security's keys when the server
    /// encrypts, the Client Info's logon.
    pub(super) fn start_walk(
        &mut self,
        cr: &ConnectResponseFacts,
        over: Over,
        rec: &mut Record,
        f: &mut ProbeFacts,
        now: Now,
    ) {
        let secured = match standard_security(cr, &self.cfg.randoms.client) {
            Ok(s) => s,
            Err(why) => {
                rec.stage(Stage::SecurityExchange, StageStatus::Failed, now.at, why);
                rec.stop(Stage::SecurityExchange);
                return;
            }
        };
        let over = match over {
            Over::RdpSecurity { .. } => Over::RdpSecurity {
                encrypted: secured.is_some(),
            },
            other => other,
        };
        let (mut walk, step) = Walk::start(
            cr.io_channel.unwrap_or(1003),
            self.cfg.stop_after,
            self.cfg.randoms.walk,
            secured,
        );
        if let Some(c) = self.cfg.credentials {
            walk.set_logon(Logon::new(c, client_info_password(over)));
        }
        self.walk_step(Box::new(walk), step, f);
    }

    /// The walk's next step; its facts go to `f` when it ends.
    pub(super) fn walk_step(&mut self, walk: Box<Walk>, step: Step, f: &mut ProbeFacts) {
        self.state = match step {
            Step::Close(frames) => {
                f.session = Some(walk.facts);
                State::Closing(frames)
            }
            Step::Done => {
                f.session = Some(walk.facts);
                State::Done
            }
            step => State::Walk { walk, step },
        };
    }
}

/// The stage in progress ends without the server's answer: closed (`closed-by-server`) or
/// silent (`server-silent`).
pub(super) fn failed(rec: &mut Record, stage: Stage, e: &ReadFailure, at: Duration) {
    let (status, f) = match e {
        ReadFailure::Timeout { .. } => (
            StageStatus::Timeout,
            transport::server_silent(format!("no answer during {stage}: {}", e.describe())),
        ),
        _ => (
            StageStatus::Failed,
            transport::closed_by_server(format!("during {stage}: {}", e.describe())),
        ),
    };
    rec.stage(stage, status, at, e.describe());
    rec.stop(stage);
    rec.findings.push(f);
}
