//! Oracles for the fuzz targets over this crate's own input handling (`fuzz/`): each takes
//! arbitrary bytes and must never panic; the assertions are properties the code promises.
//! They also run under `cargo test` on the fixtures (tests/it/fuzz_regression.rs).

use crate::active::targets;
use crate::capture::link;
use crate::capture::source::LinkType;

/// The link decoder: the fast path, when it takes a packet, gives what etherparse gives.
pub fn link_decode(data: &[u8]) {
    for link_type in [
        LinkType::ETHERNET,
        LinkType::LINUX_SLL,
        LinkType::LINUX_SLL2,
        LinkType::RAW,
        LinkType::NULL,
    ] {
        let _ = link::decode(link_type, data);
    }
    if let Some(fast) = link::fast_ethernet(data) {
        assert_eq!(Ok(fast), link::decode_general(LinkType::ETHERNET, data));
    }
}

/// What a server answers the probe: a Connection Confirm or a Connect-Response, whatever the
/// bytes.
pub fn probe_answers(data: &[u8]) {
    let _ = crate::facts::x224::Confirm::parse(data);
    let _ = crate::facts::gcc::ConnectResponseFacts::parse(data);
}

/// Target lists (`-i FILE`, arguments): any line parses or is refused; a block names its
/// addresses without materialising them.
pub fn target_list(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for line in targets::list_lines(text) {
        let _ = targets::ambiguity(line, 3389);
        if let Ok(spec) = targets::parse_spec(line, 3389, true) {
            assert!(!spec.is_empty());
            assert!(spec.targets().take(3).count() >= 1);
        }
    }
}

/// JSON output: any string is written without terminal controls and reads back the same.
pub fn json_text(data: &[u8]) {
    let s = String::from_utf8_lossy(data);
    let line = crate::report::json::line(&*s);
    assert!(!line.chars().any(|c| c.is_control()), "{line:?}");
    let back: String = serde_json::from_str(&line).unwrap_or_default();
    assert_eq!(back, s);
}

/// Every oracle of this module.
pub fn all(data: &[u8]) {
    link_decode(data);
    probe_answers(data);
    target_list(data);
    json_text(data);
}
