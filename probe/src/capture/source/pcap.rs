//! Classic pcap: the file header (micro- and nanosecond magic, both byte orders, the
//! "modified" Kuznetzov variant) and the packet records.

use std::io::Read;

use super::*;

pub(super) const PCAP_HEADER_LEN: usize = 24;
pub(super) const PCAP_RECORD_LEN: usize = 16;
pub(super) const PCAP_MODIFIED_RECORD_LEN: usize = 24;

#[derive(Clone, Copy, Debug)]
pub(super) struct PcapInfo {
    pub(super) big_endian: bool,
    pub(super) nanosecond: bool,
    pub(super) modified: bool,
    pub(super) link: LinkType,
}

impl<R: Read> PacketReader<R> {
    pub(super) fn start_pcap(&mut self) -> Result<(), SourceError> {
        if !self.fill(PCAP_HEADER_LEN)? {
            let have = self.available();
            return Err(SourceError::Corrupt {
                offset: have as u64,
                packet: None,
                message: format!(
                    "the file ends inside the {PCAP_HEADER_LEN}-byte pcap file header ({have} \
                     bytes present)"
                ),
            });
        }
        let header = match pcap_parser::parse_pcap_header(self.window(PCAP_HEADER_LEN)) {
            Ok((_, h)) => h,
            Err(e) => {
                return Err(self.corrupt(None, format!("unreadable pcap file header: {e:?}")));
            }
        };
        let raw_link = header.network.0 as u32;
        self.pcap = PcapInfo {
            big_endian: header.is_bigendian(),
            nanosecond: header.is_nanosecond_precision(),
            modified: header.is_modified_format(),
            link: LinkType(raw_link & 0xffff),
        };
        self.format = CaptureFormat::Pcap {
            big_endian: self.pcap.big_endian,
            nanosecond: self.pcap.nanosecond,
        };
        if header.version_major != 2 {
            self.notice(
                None,
                4,
                format!(
                    "unusual pcap version {}.{} in the file header (expected 2.4); reading it \
                     as 2.4",
                    header.version_major, header.version_minor
                ),
            );
        }
        if raw_link & 0x03ff_0000 != 0 {
            self.notice(
                None,
                20,
                format!(
                    "reserved bits set in the link type field {raw_link:#010x}; using link type \
                     {}",
                    raw_link & 0xffff
                ),
            );
        }
        self.consume(PCAP_HEADER_LEN);
        Ok(())
    }

    pub(super) fn next_pcap(&mut self) -> Result<Option<Meta>, SourceError> {
        let info = self.pcap;
        let number = self.packets + 1;
        let header_len = if info.modified {
            PCAP_MODIFIED_RECORD_LEN
        } else {
            PCAP_RECORD_LEN
        };
        if !self.fill(header_len)? {
            let have = self.available();
            if have > 0 {
                let offset = self.offset;
                self.notice(
                    Some(number),
                    offset,
                    format!(
                        "file ends in the middle of packet {number} at offset {offset}: only \
                         {have} of the {header_len} bytes of its record header are present"
                    ),
                );
            }
            return Ok(None);
        }
        let h = self.window(header_len);
        let be = info.big_endian;
        let ts_sec = u32_at(h, 0, be);
        let ts_frac = u32_at(h, 4, be);
        let caplen = u32_at(h, 8, be);
        let orig_len = u32_at(h, 12, be);
        if caplen as usize > MAX_BLOCK {
            return Err(self.corrupt(
                Some(number),
                format!(
                    "the record header of packet {number} claims {caplen} captured bytes, more \
                     than the {MAX_BLOCK}-byte limit"
                ),
            ));
        }
        let total = header_len + caplen as usize;
        if !self.fill(total)? {
            let have = self.available();
            let offset = self.offset;
            self.notice(
                Some(number),
                offset,
                format!(
                    "file ends in the middle of packet {number} at offset {offset}: only {have} \
                     of its {total} bytes are present"
                ),
            );
            return Ok(None);
        }
        let frac_ns = if info.nanosecond {
            i64::from(ts_frac)
        } else {
            i64::from(ts_frac) * 1000
        };
        let ts_ns = i64::from(ts_sec) * 1_000_000_000 + frac_ns;
        let orig_len = self.check_orig_len(number, caplen, orig_len);
        Ok(Some(Meta {
            data_at: header_len,
            data_len: caplen as usize,
            ts_ns,
            link: info.link,
            interface: 0,
            orig_len,
            consume: total,
        }))
    }
}
