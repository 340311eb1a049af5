//! The JSON Schemas of rdprobe's records (`docs/schema/`), generated from the report types
//! themselves (schemars reads their serde attributes), so that the schema cannot drift from
//! what is written. `line` is one JSON Lines line of any command: its `type` says which record
//! `data` holds. `probe/tests/schema.rs` keeps `docs/schema/` equal to this and validates real
//! outputs against it.

use schemars::generate::SchemaSettings;
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};

use super::archive::ArchiveSummary;
use super::capture::{CaptureReport, Connection};
use super::fleet::FleetSummary;
use super::json::{CaptureSummary, SCHEMA_VERSION};
use super::probe::ProbeResult;
use super::watch::{Attempt, WatchSummary};
use crate::explain::Explanation;

/// A generator for what rdprobe writes (the serialize contract: a field skipped when empty is
/// optional).
fn generator() -> SchemaGenerator {
    SchemaSettings::default().for_serialize().into_generator()
}

fn root<T: JsonSchema>(description: &str) -> Schema {
    let mut s = generator().into_root_schema_for::<T>();
    s.insert("description".into(), description.into());
    s
}

/// Every schema, by the file name it has in `docs/schema/` (without `.json`).
pub fn all() -> Vec<(&'static str, Schema)> {
    vec![
        ("line", line()),
        ("probe-result", root::<ProbeResult>("One target of `rdprobe probe` (an element of --format json, the data of a `target` line).")),
        ("capture-report", root::<CaptureReport>("One capture file of `rdprobe pcap --format json`.")),
        ("connection", root::<Connection>("One connection of a capture (the data of a `connection` line).")),
        ("fleet-summary", root::<FleetSummary>("The summary of a probe of several targets, or of `rdprobe summarize` (the data of a probe's `summary` line).")),
        ("capture-summary", root::<CaptureSummary<'static>>("The end of one capture (the data of a pcap `summary` line).")),
        ("archive-summary", root::<ArchiveSummary>("The summary of several captures: the last line of `rdprobe pcap` over several files, or `rdprobe summarize` over pcap runs (a `summary` line without `file`).")),
        ("watch-attempt", root::<Attempt>("One attempt of `probe --watch` (an `attempt` line).")),
        ("watch-summary", root::<WatchSummary>("The end of `probe --watch` (a `watch_summary` line).")),
        ("explanations", root::<Vec<Explanation>>("`rdprobe explain --format json`: every reading of the input.")),
    ]
}

/// One JSON Lines line: `{"type", "schema_version", "file"?, "data"}`, `data` by `type`.
fn line() -> Schema {
    let mut g = generator();
    let target = g.subschema_for::<ProbeResult>();
    let connection = g.subschema_for::<Connection>();
    let fleet = g.subschema_for::<FleetSummary>();
    let capture = g.subschema_for::<CaptureSummary<'static>>();
    let archive = g.subschema_for::<ArchiveSummary>();
    let attempt = g.subschema_for::<Attempt>();
    let watch = g.subschema_for::<WatchSummary>();
    let defs = g.take_definitions(true);
    let when = |t: &str, data: serde_json::Value| {
        serde_json::json!({
            "if": {"properties": {"type": {"const": t}}},
            "then": {"properties": {"data": data}}
        })
    };
    json_schema!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Line",
        "description": "One JSON Lines line of rdprobe probe, pcap, capture or summarize.",
        "type": "object",
        "required": ["type", "schema_version", "data"],
        "properties": {
            "type": {"enum": ["target", "connection", "summary", "attempt", "watch_summary"]},
            "schema_version": {"const": SCHEMA_VERSION},
            "file": {"type": "string", "description": "The capture a connection or summary comes from."},
            "data": {"type": "object"}
        },
        "allOf": [
            when("target", target.to_value()),
            when("connection", connection.to_value()),
            {
                "if": {"properties": {"type": {"const": "summary"}}, "required": ["file"]},
                "then": {"properties": {"data": capture.to_value()}},
                "else": {"if": {"properties": {"type": {"const": "summary"}}}, "then": {"properties": {"data": {"oneOf": [fleet.to_value(), archive.to_value()]}}}}
            },
            when("attempt", attempt.to_value()),
            when("watch_summary", watch.to_value())
        ],
        "$defs": defs
    })
}
