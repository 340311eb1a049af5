//! pcapng: sections, interfaces (link type, `if_tsresol`, `if_tsoffset`), enhanced, simple and
//! obsolete packet blocks; every other block type is skipped.

use std::io::Read;

use super::*;

pub(super) const SHB: u32 = 0x0A0D_0D0A;
pub(super) const IDB: u32 = 0x0000_0001;
pub(super) const OPB: u32 = 0x0000_0002;
pub(super) const SPB: u32 = 0x0000_0003;
pub(super) const NRB: u32 = 0x0000_0004;
pub(super) const ISB: u32 = 0x0000_0005;
pub(super) const EPB: u32 = 0x0000_0006;
pub(super) const SJE: u32 = 0x0000_0009;
pub(super) const DSB: u32 = 0x0000_000A;
pub(super) const CB_COPY: u32 = 0x0000_0BAD;
pub(super) const CB_NOCOPY: u32 = 0x4000_0BAD;

/// How an interface's timestamp units convert to nanoseconds.
#[derive(Clone, Copy, Debug)]
pub(super) enum TsScale {
    Mul(i128),
    Div(i128),
    Shift(u32),
}

#[derive(Clone, Copy, Debug)]
pub(super) struct Interface {
    pub(super) link: LinkType,
    pub(super) snaplen: u32,
    pub(super) scale: TsScale,
    pub(super) offset_s: i64,
}

impl Interface {
    fn ts_ns(&self, ts: u64) -> i64 {
        let t = i128::from(ts);
        let ns = match self.scale {
            TsScale::Mul(m) => t * m,
            TsScale::Div(d) => t / d,
            TsScale::Shift(n) => (t * 1_000_000_000) >> n,
        };
        let ns = ns + i128::from(self.offset_s) * 1_000_000_000;
        i64::try_from(ns).unwrap_or(if ns < 0 { i64::MIN } else { i64::MAX })
    }
}

/// Decodes `if_tsresol`: MSB clear = 10^-n seconds, MSB set = 2^-n seconds.
pub(super) fn ts_scale(tsresol: u8) -> (TsScale, bool) {
    let n = u32::from(tsresol & 0x7f);
    if tsresol & 0x80 == 0 {
        let plausible = n <= 19;
        if n <= 9 {
            (TsScale::Mul(10i128.pow(9 - n)), plausible)
        } else {
            (
                TsScale::Div(10i128.checked_pow(n - 9).unwrap_or(i128::MAX)),
                plausible,
            )
        }
    } else {
        (TsScale::Shift(n), n <= 63)
    }
}

#[derive(Debug, Default)]
pub(super) struct NgState {
    pub(super) big_endian: bool,
    pub(super) interfaces: Vec<Interface>,
    pub(super) spb_time_noticed: bool,
}

/// Where the next pcapng block stands.
pub(super) enum NgBlock {
    Eof,
    Truncated {
        btype: Option<u32>,
        have: usize,
        need: Option<usize>,
    },
    Block {
        btype: u32,
        len: usize,
    },
}

pub(super) fn block_name(btype: u32) -> String {
    match btype {
        SHB => "section header block".into(),
        IDB => "interface description block".into(),
        OPB => "obsolete packet block".into(),
        SPB => "simple packet block".into(),
        NRB => "name resolution block".into(),
        ISB => "interface statistics block".into(),
        EPB => "enhanced packet block".into(),
        SJE => "systemd journal export block".into(),
        DSB => "decryption secrets block".into(),
        CB_COPY | CB_NOCOPY => "custom block".into(),
        other => format!("block of type {other:#010x}"),
    }
}

pub(super) fn is_packet_block(btype: u32) -> bool {
    matches!(btype, EPB | SPB | OPB)
}

impl<R: Read> PacketReader<R> {
    pub(super) fn start_pcapng(&mut self) -> Result<(), SourceError> {
        self.format = CaptureFormat::PcapNg;
        match self.next_block()? {
            NgBlock::Block { btype: SHB, len } => {
                self.on_shb(len)?;
                self.consume(len);
                Ok(())
            }
            _ => Err(SourceError::Corrupt {
                offset: self.available() as u64,
                packet: None,
                message: "the file ends inside its first pcapng section header block".into(),
            }),
        }
    }

    /// Frames the next block: checks its lengths and buffers all of it.
    pub(super) fn next_block(&mut self) -> Result<NgBlock, SourceError> {
        if !self.fill(8)? {
            let have = self.available();
            if have == 0 {
                return Ok(NgBlock::Eof);
            }
            let btype = (have >= 4).then(|| u32_at(self.window(4), 0, self.ng.big_endian));
            return Ok(NgBlock::Truncated {
                btype,
                have,
                need: None,
            });
        }
        if self.window(4) == [0x0a, 0x0d, 0x0d, 0x0a] {
            if !self.fill(12)? {
                return Ok(NgBlock::Truncated {
                    btype: Some(SHB),
                    have: self.available(),
                    need: None,
                });
            }
            self.ng.big_endian = match self.window(12).get(8..12) {
                Some([0x1a, 0x2b, 0x3c, 0x4d]) => true,
                Some([0x4d, 0x3c, 0x2b, 0x1a]) => false,
                _ => {
                    return Err(self.corrupt(
                        None,
                        format!(
                            "section header block with an invalid byte-order magic (after \
                             packet {})",
                            self.packets
                        ),
                    ))
                }
            };
        }
        let be = self.ng.big_endian;
        let head = self.window(8);
        let btype = u32_at(head, 0, be);
        let len32 = u32_at(head, 4, be);
        let min = match btype {
            SHB => 28,
            IDB => 20,
            EPB | OPB => 32,
            SPB => 16,
            _ => 12,
        };
        let packet = is_packet_block(btype).then_some(self.packets + 1);
        // (only formatted on the error paths: nothing is allocated per block)
        let after = self.packets;
        let what = || match packet {
            Some(n) => format!("the {} of packet {n}", block_name(btype)),
            None => format!("a {} (after packet {after})", block_name(btype)),
        };
        if len32 < min || len32 % 4 != 0 {
            return Err(self.corrupt(
                packet,
                format!("{} has an invalid block length {len32}", what()),
            ));
        }
        if len32 as usize > MAX_BLOCK {
            return Err(self.corrupt(
                packet,
                format!(
                    "{} claims {len32} bytes, more than the {MAX_BLOCK}-byte limit",
                    what()
                ),
            ));
        }
        let len = len32 as usize;
        if !self.fill(len)? {
            return Ok(NgBlock::Truncated {
                btype: Some(btype),
                have: self.available(),
                need: Some(len),
            });
        }
        let trailer = u32_at(self.window(len), len - 4, be);
        if trailer != len32 {
            return Err(self.corrupt(
                packet,
                format!(
                    "{} has a trailing length {trailer} that differs from its leading length \
                     {len32}",
                    what()
                ),
            ));
        }
        Ok(NgBlock::Block { btype, len })
    }

    pub(super) fn next_pcapng(&mut self) -> Result<Option<Meta>, SourceError> {
        loop {
            match self.next_block()? {
                NgBlock::Eof => return Ok(None),
                NgBlock::Truncated { btype, have, need } => {
                    let offset = self.offset;
                    let number = self.packets + 1;
                    let of = match need {
                        Some(need) => format!("only {have} of its {need} bytes are present"),
                        None => format!("only {have} bytes of its block header are present"),
                    };
                    let (packet, message) = match btype {
                        Some(t) if is_packet_block(t) => (
                            Some(number),
                            format!(
                                "file ends in the middle of packet {number} at offset {offset}: \
                                 {of}"
                            ),
                        ),
                        Some(t) => (
                            None,
                            format!(
                                "file ends in the middle of a {} at offset {offset} (after \
                                 packet {}): {of}",
                                block_name(t),
                                self.packets
                            ),
                        ),
                        None => (
                            None,
                            format!(
                                "file ends in the middle of a block header at offset {offset} \
                                 (after packet {}): {of}",
                                self.packets
                            ),
                        ),
                    };
                    self.notice(packet, offset, message);
                    return Ok(None);
                }
                NgBlock::Block { btype, len } => match btype {
                    SHB => {
                        self.on_shb(len)?;
                        self.consume(len);
                    }
                    IDB => {
                        self.on_idb(len)?;
                        self.consume(len);
                    }
                    EPB | OPB => return self.on_epb(btype, len).map(Some),
                    DSB => {
                        self.on_dsb(len);
                        self.consume(len);
                    }
                    SPB => return self.on_spb(len).map(Some),
                    SJE | CB_COPY | CB_NOCOPY => {
                        // Wireshark shows journal entries and custom blocks as frames: skip
                        // their numbers so that packet numbers stay Wireshark's frame numbers.
                        self.packets += 1;
                        self.consume(len);
                    }
                    _ => self.consume(len),
                },
            }
        }
    }

    /// A Decryption Secrets Block (pcapng 4.7): a TLS key log (secrets type `TLSK`) is kept
    /// for [`PacketReader::take_secrets`]; other secret types (WireGuard, ZigBee ...) and a
    /// block whose secrets length overruns it are skipped with a notice.
    fn on_dsb(&mut self, len: usize) {
        const TLS_KEY_LOG: u32 = 0x544c_534b;
        let be = self.ng.big_endian;
        let block = self.window(len);
        let (kind, n) = (u32_at(block, 8, be), u32_at(block, 12, be) as usize);
        let fits = n <= len.saturating_sub(20);
        let offset = self.offset;
        let after = self.packets;
        let text = fits.then(|| 16usize.saturating_add(self.start)..self.start + 16 + n);
        match text.and_then(|r| self.buf.get(r)) {
            Some(text) if kind == TLS_KEY_LOG => {
                if self.secrets.len() + text.len() <= super::MAX_SECRETS {
                    self.secrets.extend_from_slice(text);
                    self.secrets.push(b'\n');
                } else {
                    self.notice(
                        None,
                        offset,
                        format!("a TLS key log block at offset {offset} (after packet {after}) is past the {}-byte limit of secrets kept; skipped", super::MAX_SECRETS),
                    );
                }
            }
            Some(_) => self.notice(
                None,
                offset,
                format!("a Decryption Secrets Block of type 0x{kind:08x} at offset {offset} (after packet {after}) is not a TLS key log; skipped"),
            ),
            None => self.notice(
                None,
                offset,
                format!("a Decryption Secrets Block at offset {offset} (after packet {after}) claims {n} bytes of secrets, more than it holds; skipped"),
            ),
        }
    }

    pub(super) fn on_shb(&mut self, len: usize) -> Result<(), SourceError> {
        let version = match pcap_parser::parse_sectionheaderblock(self.window(len)) {
            Ok((_, shb)) => (shb.major_version, shb.minor_version),
            Err(e) => {
                return Err(self.corrupt(
                    None,
                    format!(
                        "malformed section header block (after packet {}): {e:?}",
                        self.packets
                    ),
                ))
            }
        };
        if version.0 != 1 {
            return Err(self.corrupt(
                None,
                format!(
                    "unsupported pcapng version {}.{} in a section header block (after packet {})",
                    version.0, version.1, self.packets
                ),
            ));
        }
        self.ng.interfaces.clear();
        Ok(())
    }

    pub(super) fn on_idb(&mut self, len: usize) -> Result<(), SourceError> {
        let be = self.ng.big_endian;
        let block = self.window(len);
        let parsed = if be {
            pcap_parser::parse_interfacedescriptionblock_be(block)
        } else {
            pcap_parser::parse_interfacedescriptionblock_le(block)
        };
        let (link, snaplen, tsresol, offset_s) = match parsed {
            Ok((_, idb)) => {
                let mut tsresol = 6u8;
                let mut offset_s = 0i64;
                for opt in &idb.options {
                    match opt.code.0 {
                        9 => {
                            if let Some(&b) = opt.value().first() {
                                tsresol = b;
                            }
                        }
                        14 => {
                            if let Some(Ok(a)) = opt.value().get(..8).map(<[u8; 8]>::try_from) {
                                offset_s = if be {
                                    i64::from_be_bytes(a)
                                } else {
                                    i64::from_le_bytes(a)
                                };
                            }
                        }
                        _ => {}
                    }
                }
                (
                    LinkType((idb.linktype.0 as u32) & 0xffff),
                    idb.snaplen,
                    tsresol,
                    offset_s,
                )
            }
            Err(e) => {
                return Err(self.corrupt(
                    None,
                    format!(
                        "malformed interface description block (after packet {}): {e:?}",
                        self.packets
                    ),
                ))
            }
        };
        if self.ng.interfaces.len() >= MAX_INTERFACES {
            return Err(self.corrupt(
                None,
                format!("more than {MAX_INTERFACES} interface description blocks in one section"),
            ));
        }
        let (scale, plausible) = ts_scale(tsresol);
        if !plausible {
            let offset = self.offset;
            let id = self.ng.interfaces.len();
            self.notice(
                None,
                offset,
                format!(
                    "interface {id} (block at offset {offset}) has an implausible timestamp \
                     resolution if_tsresol={tsresol:#04x}; its timestamps are probably wrong"
                ),
            );
        }
        self.ng.interfaces.push(Interface {
            link,
            snaplen,
            scale,
            offset_s,
        });
        Ok(())
    }

    pub(super) fn interface(&self, number: u64, id: u32) -> Result<Interface, SourceError> {
        match self.ng.interfaces.get(id as usize) {
            Some(iface) => Ok(*iface),
            None => Err(self.corrupt(
                Some(number),
                format!(
                    "packet {number} refers to interface {id}, but this section describes only {} \
                     interface(s)",
                    self.ng.interfaces.len()
                ),
            )),
        }
    }

    /// Enhanced (type 6) and obsolete (type 2) packet blocks: same layout but the interface id.
    pub(super) fn on_epb(&mut self, btype: u32, len: usize) -> Result<Meta, SourceError> {
        let be = self.ng.big_endian;
        let number = self.packets + 1;
        let b = self.window(len);
        let if_id = if btype == EPB {
            u32_at(b, 8, be)
        } else {
            u32::from(u16_at(b, 8, be))
        };
        let ts = (u64::from(u32_at(b, 12, be)) << 32) | u64::from(u32_at(b, 16, be));
        let caplen = u32_at(b, 20, be);
        let orig_len = u32_at(b, 24, be);
        let room = len - 32;
        if caplen as usize > room {
            return Err(self.corrupt(
                Some(number),
                format!(
                    "the {} of packet {number} claims {caplen} captured bytes but has room for \
                     only {room}",
                    block_name(btype)
                ),
            ));
        }
        let iface = self.interface(number, if_id)?;
        let orig_len = self.check_orig_len(number, caplen, orig_len);
        Ok(Meta {
            data_at: 28,
            data_len: caplen as usize,
            ts_ns: iface.ts_ns(ts),
            link: iface.link,
            interface: if_id,
            orig_len,
            consume: len,
        })
    }

    /// Simple packet blocks: interface 0, no timestamp (the previous packet's time is used).
    pub(super) fn on_spb(&mut self, len: usize) -> Result<Meta, SourceError> {
        let number = self.packets + 1;
        let orig_len = u32_at(self.window(len), 8, self.ng.big_endian);
        let iface = self.interface(number, 0)?;
        let mut caplen = orig_len.min((len - 16) as u32);
        if iface.snaplen != 0 {
            caplen = caplen.min(iface.snaplen);
        }
        if !self.ng.spb_time_noticed {
            self.ng.spb_time_noticed = true;
            let offset = self.offset;
            self.notice(
                Some(number),
                offset,
                format!(
                    "packet {number} at offset {offset} is a simple packet block, which has no \
                     timestamp: such packets get the time of the packet before them"
                ),
            );
        }
        Ok(Meta {
            data_at: 12,
            data_len: caplen as usize,
            ts_ns: self.last_ts_ns,
            link: iface.link,
            interface: 0,
            orig_len,
            consume: len,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsresol_scales() {
        let iface = |r: u8, off: i64| Interface {
            link: LinkType::ETHERNET,
            snaplen: 0,
            scale: ts_scale(r).0,
            offset_s: off,
        };
        assert_eq!(iface(6, 0).ts_ns(1_500_000), 1_500_000_000);
        assert_eq!(iface(9, 0).ts_ns(7), 7);
        assert_eq!(iface(3, 0).ts_ns(2), 2_000_000);
        assert_eq!(iface(12, 0).ts_ns(5_000), 5);
        assert_eq!(iface(0x80 | 10, 0).ts_ns(1024), 1_000_000_000);
        assert_eq!(iface(0x80 | 20, 0).ts_ns(1 << 19), 500_000_000);
        assert_eq!(iface(6, 10).ts_ns(1), 10_000_001_000);
        assert_eq!(iface(0, 0).ts_ns(u64::MAX), i64::MAX);
        assert!(!ts_scale(20).1 && ts_scale(19).1 && !ts_scale(0x80 | 64).1);
    }
}
