//! GCC Conference Create Request / Response and their client and server data blocks.

use rdp_proto::gcc::{self as pgcc, ClientBlock, ServerBlock, ServerCertificate};
use rdp_proto::nego::{flag_names, SecurityProtocol};

use super::*;

pub(super) fn gcc_request_node(
    input: &[u8],
    part: &[u8],
    req: &pgcc::ConferenceCreateRequest<'_>,
) -> Node {
    let mut n = Node::new("GCC Conference Create Request", input, part);
    n.f("h221NonStandard", wire_text(req.h221_key));
    for b in &req.blocks {
        n.child(client_block_node(input, b));
    }
    n
}

pub(super) fn client_block_node(input: &[u8], b: &ClientBlock<'_>) -> Node {
    let ty = b.block_type();
    let mut n = Node::new(format!("{ty}"), input, &[]);
    match b {
        ClientBlock::Core(c) => {
            n.name = "TS_UD_CS_CORE".into();
            n.f(
                "version",
                format!("0x{:08x} (RDP {})", c.version.0, c.version.label()),
            )
            .f("desktopWidth", c.desktop_width)
            .f("desktopHeight", c.desktop_height)
            .f("colorDepth", c.color_depth.to_string())
            .f("keyboardLayout", format!("0x{:08x}", c.keyboard_layout))
            .f("clientBuild", c.client_build)
            .f("clientName", c.client_name())
            .f("keyboardType", c.keyboard_type)
            .f("keyboardFunctionKey", c.keyboard_function_key);
            let o = &c.optional;
            if let Some(v) = o.post_beta2_color_depth {
                n.f("postBeta2ColorDepth", v.to_string());
            }
            if let Some(v) = o.client_product_id {
                n.f("clientProductId", v);
            }
            if let Some(v) = o.high_color_depth {
                n.f("highColorDepth", v);
            }
            if let Some(v) = o.supported_color_depths {
                n.f("supportedColorDepths", format!("0x{v:04x}"));
            }
            if let Some(v) = o.early_capability_flags {
                n.f("earlyCapabilityFlags", format!("0x{v:04x}"));
            }
            if let Some(v) = c.dig_product_id() {
                n.f("clientDigProductId", v);
            }
            if let Some(v) = o.connection_type {
                n.f("connectionType", v);
            }
            if let Some(v) = o.server_selected_protocol {
                n.f(
                    "serverSelectedProtocol",
                    protocols(SecurityProtocol::from_bits_retain(v)),
                );
            }
        }
        ClientBlock::Security(s) => {
            n.name = "TS_UD_CS_SEC".into();
            n.hex32("encryptionMethods", s.encryption_methods.bits())
                .f("encryptionMethods names", flag_names(s.encryption_methods))
                .f("extEncryptionMethods", s.ext_encryption_methods);
        }
        ClientBlock::Network(net) => {
            n.name = "TS_UD_CS_NET".into();
            n.f("channelCount", net.channels.len());
            n.f(
                "channelDefArray",
                net.channels
                    .iter()
                    .map(|c| format!("{} (0x{:08x})", c.name(), c.options))
                    .collect::<Vec<_>>(),
            );
        }
        ClientBlock::Cluster(c) => {
            n.name = "TS_UD_CS_CLUSTER".into();
            n.hex32("Flags", c.flags)
                .f("RedirectedSessionID", c.redirected_session_id);
        }
        ClientBlock::Monitor(m) => {
            n.name = "TS_UD_CS_MONITOR".into();
            n.f("monitorCount", m.monitor_count);
        }
        ClientBlock::MonitorEx(m) => {
            n.name = "TS_UD_CS_MONITOR_EX".into();
            n.f("monitorCount", m.monitor_count);
        }
        ClientBlock::MessageChannel { flags } => {
            n.name = "TS_UD_CS_MCS_MSGCHANNEL".into();
            n.hex32("flags", *flags);
        }
        ClientBlock::Multitransport { flags } => {
            n.name = "TS_UD_CS_MULTITRANSPORT".into();
            n.hex32("flags", *flags);
        }
        ClientBlock::Unknown(u) => {
            n.name = format!("user data block 0x{:04x}", u.block_type.0);
            n.f("data", hex::encode(u.data));
        }
    }
    n
}

pub(super) fn gcc_response_node(
    input: &[u8],
    part: &[u8],
    resp: &pgcc::ConferenceCreateResponse<'_>,
) -> Node {
    let mut n = Node::new("GCC Conference Create Response", input, part);
    n.f("nodeID", resp.node_id)
        .f("result", resp.result)
        .f("h221NonStandard", wire_text(resp.h221_key));
    for b in &resp.blocks {
        n.child(server_block_node(input, b));
    }
    n
}

pub(super) fn server_block_node(input: &[u8], b: &ServerBlock<'_>) -> Node {
    let mut n = Node::new(format!("{}", b.block_type()), input, &[]);
    match b {
        ServerBlock::Core(c) => {
            n.name = "TS_UD_SC_CORE".into();
            n.f(
                "version",
                format!("0x{:08x} (RDP {})", c.version.0, c.version.label()),
            );
            if let Some(p) = c.client_requested_protocols {
                n.f(
                    "clientRequestedProtocols",
                    protocols(SecurityProtocol::from_bits_retain(p)),
                );
            }
            if let Some(e) = c.early_capability_flags {
                n.hex32("earlyCapabilityFlags", e);
            }
        }
        ServerBlock::Security(s) => {
            n.name = "TS_UD_SC_SEC1".into();
            n.hex32("encryptionMethod", s.encryption_method.bits())
                .f("encryptionMethod names", flag_names(s.encryption_method))
                .f("encryptionLevel", s.encryption_level.to_string());
            if let Some(r) = s.server_random {
                n.f("serverRandomLen", r.len());
            }
            if let Some(c) = s.server_certificate {
                n.f("serverCertLen", c.len());
            }
            match s.certificate() {
                Some(Ok(cert)) => {
                    let mut c = Node::new(
                        "SERVER_CERTIFICATE",
                        input,
                        s.server_certificate.unwrap_or_default(),
                    );
                    c.f("certificate type", cert.cert_type().to_string())
                        .f("permanent", cert.permanent());
                    match &cert.certificate {
                        ServerCertificate::Proprietary(p) => {
                            c.f("PublicKeyBlob bitlen", p.public_key.bitlen)
                                .f("pubExp", p.public_key.pub_exp);
                        }
                        ServerCertificate::X509 { certificates, .. } => {
                            c.f("NumCertBlobs", certificates.len());
                            for der in certificates {
                                c.child(x509_node(input, der));
                            }
                        }
                        ServerCertificate::Unknown { .. } => {}
                    }
                    n.child(c);
                }
                Some(Err(e)) => n.error = Some(e.to_string()),
                None => {}
            }
        }
        ServerBlock::Network(net) => {
            n.name = "TS_UD_SC_NET".into();
            n.f("MCSChannelId", net.mcs_channel_id);
            n.f(
                "channelIdArray",
                net.channel_ids().map(|c| c.to_string()).collect::<Vec<_>>(),
            );
        }
        ServerBlock::MessageChannel { mcs_channel_id } => {
            n.name = "TS_UD_SC_MCS_MSGCHANNEL".into();
            n.f("MCSChannelID", *mcs_channel_id);
        }
        ServerBlock::Multitransport { flags } => {
            n.name = "TS_UD_SC_MULTITRANSPORT".into();
            n.hex32("flags", *flags);
        }
        ServerBlock::Unknown(u) => {
            n.name = format!("user data block 0x{:04x}", u.block_type.0);
            n.f("data", hex::encode(u.data));
        }
    }
    n
}
