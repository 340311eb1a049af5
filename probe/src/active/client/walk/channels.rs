//! The walk's channel connection (MS-RDPBCGR 1.3.1.1 phase 4) and what follows it at once:
//! the Attach User Confirm, the Channel Join Confirms (the user and I/O channels), then the
//! Security Exchange (Standard RDP Security) and the Client Info.

use super::*;

impl Walk {
    /// The Attach User Confirm: the user channel, then its join.
    pub(super) fn on_attach(
        &mut self,
        result: McsResult,
        initiator: Option<u16>,
        rec: &mut Record,
        at: Duration,
    ) -> Step {
        let Some(user) = initiator.filter(|_| result == McsResult::RT_SUCCESSFUL) else {
            let why = format!("Attach User refused: {result}");
            return self.fail(rec, at, why.clone(), transport::closed_by_server(why));
        };
        self.user = user;
        self.facts.channels.user_channel = Some(user);
        self.pending = vec![self.io_channel, user];
        self.state = State::Join;
        let first = self.join(user);
        Step::Send(vec![first])
    }

    /// A Channel Join Confirm: the next join, or, all joined, the Security Exchange and the
    /// Client Info.
    pub(super) fn on_join(
        &mut self,
        result: McsResult,
        requested: u16,
        rec: &mut Record,
        at: Duration,
    ) -> Step {
        self.facts.channels.join_confirm(requested, result);
        if result != McsResult::RT_SUCCESSFUL {
            let why = format!("Channel Join of {requested} refused: {result}");
            return self.fail(rec, at, why.clone(), transport::closed_by_server(why));
        }
        self.pending.retain(|c| *c != requested);
        if let Some(next) = self.pending.first().copied() {
            return Step::Send(vec![self.join(next)]);
        }
        let joined = self.facts.channels.joined.clone();
        rec.stage(
            Stage::Channels,
            StageStatus::Ok,
            at,
            format!("user channel {}, joined {joined:?}", self.user),
        );
        if self.stop_after <= Stage::Channels {
            return self.done();
        }
        let mut frames = Vec::new();
        if let Some(exchange) = self.exchange.take() {
            frames.push(self.send_data(&exchange));
            let method = self
                .security
                .as_ref()
                .map(Session::method)
                .unwrap_or_default();
            rec.stage(
                Stage::SecurityExchange,
                StageStatus::Ok,
                at,
                format!(
                    "client random sent; {} session keys",
                    crate::facts::gcc::method_name(method)
                ),
            );
            if self.stop_after <= Stage::SecurityExchange {
                self.state = State::Done;
                return Step::Send(frames);
            }
        }
        let anonymous = ClientInfo::anonymous();
        let (info, detail) = match &self.logon {
            Some(l) => {
                let mut flags = anonymous.flags;
                if l.password.len() > 2 {
                    flags |= rdp_proto::info::InfoFlags::INFO_AUTOLOGON;
                }
                let info = ClientInfo {
                    flags,
                    domain: &l.domain,
                    user_name: &l.user,
                    password: &l.password,
                    ..anonymous
                };
                let how = l
                    .without_password
                    .unwrap_or("with the password: auto-logon");
                (
                    zeroize::Zeroizing::new(encode_vec(&info).unwrap_or_default()),
                    format!("Client Info sent for {} ({how})", l.display),
                )
            }
            None => (
                zeroize::Zeroizing::new(encode_vec(&anonymous).unwrap_or_default()),
                "anonymous Client Info sent (no credentials, logon errors asked for)".to_owned(),
            ),
        };
        frames.push(self.send_pdu(SecurityFlags::SEC_INFO_PKT, &info));
        rec.stage(Stage::ClientInfo, StageStatus::Ok, at, detail);
        self.state = if self.stop_after <= Stage::ClientInfo {
            State::Done
        } else {
            State::Licensing
        };
        Step::Send(frames)
    }
}
