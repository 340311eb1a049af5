//! The connector's CredSSP (MS-CSSP 3.1.5): the server's TSRequests, the first round's facts,
//! the outcome with credentials, then MCS when they passed.

use super::*;

impl<'c> Connector<'c> {
    /// One TSRequest from the server.
    pub(super) fn on_ts_request(
        &mut self,
        protocol: SecurityProtocol,
        cssp: Cssp<'c>,
        frame: &[u8],
        rec: &mut Record,
        f: &mut ProbeFacts,
        now: Now,
    ) {
        let parse = |frame: &[u8]| {
            TsRequestFacts::parse(frame).map_err(|e| format!("server TSRequest: {e}"))
        };
        let Cssp::Logon {
            mut client,
            mut facts,
            answers,
        } = cssp
        else {
            // Without credentials the CHALLENGE is where CredSSP stops.
            f.credssp = conclude_credssp(rec, parse(frame), now.unix, now.at);
            return;
        };
        if answers == 0 {
            facts = parse(frame);
        }
        let (bytes, credentials_sent) = match client.on_ts_request(frame) {
            CredsspStep::Send(bytes) => (bytes, false),
            CredsspStep::Done(bytes) => (bytes, true),
            CredsspStep::Failed(failure) => {
                let outcome = AuthOutcome::Failed(failure);
                return self.credssp_done(protocol, facts, outcome, rec, f, now);
            }
        };
        self.out.push(bytes);
        self.state = State::Credssp {
            protocol,
            cssp: Cssp::Logon {
                client,
                facts,
                answers: answers + 1,
            },
            credentials_sent,
        };
    }

    /// CredSSP ended: the first round's facts and (with credentials) the outcome concluded;
    /// the connection goes on to MCS when the credentials passed.
    pub(super) fn credssp_done(
        &mut self,
        protocol: SecurityProtocol,
        facts: Result<TsRequestFacts, String>,
        outcome: AuthOutcome,
        rec: &mut Record,
        f: &mut ProbeFacts,
        now: Now,
    ) {
        self.state = State::Done;
        f.credssp = conclude_credssp(rec, facts, now.unix, now.at);
        let passed = outcome.passed();
        if let Some(creds) = self.cfg.credentials {
            f.auth = Some(conclude_auth(
                rec,
                &creds.display(),
                outcome,
                self.mechanism,
                self.fallback.take(),
                now.at,
            ));
        }
        if passed {
            self.mcs(
                EncryptionMethods::empty(),
                Some(protocol),
                Over::Credssp,
                rec,
            );
        }
    }
}
