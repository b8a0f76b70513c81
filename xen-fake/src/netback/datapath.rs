//! The fake netback's datapath: take tx packets from the frontend, deliver rx packets into its buffers.

use xen_traits::{DomId, SharedPage, PAGE_SIZE};
use xenbus::front_ring::layout;
use xenbus::RingEntry;

use netfront::wire::{
    ExtraInfo, RxRequest, RxResponse, TxResponse, TxSlot, NETIF_RSP_ERROR, NETIF_RSP_NULL,
    NETIF_RSP_OKAY, NETRXF_EXTRA_INFO, NETRXF_MORE_DATA, NETTXF_EXTRA_INFO, NETTXF_MORE_DATA,
};

use super::{FakeNetback, NetHostile};

/// A packet the frontend sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxPacket {
    /// Its bytes.
    pub data: Vec<u8>,
    /// The first request's `NETTXF_*` flags.
    pub flags: u16,
    /// Extra-info slots that came with it.
    pub extras: Vec<ExtraInfo>,
    /// Ring slots it used (data and extra).
    pub slots: usize,
}

/// How to deliver a packet to the frontend.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RxMeta {
    /// `NETRXF_data_validated` / `NETRXF_csum_blank` bits for the first response.
    pub flags: u16,
    /// A GSO extra-info slot: (mss, `XEN_NETIF_GSO_TYPE_*`).
    pub gso: Option<(u16, u8)>,
}

/// Why [`FakeNetback::deliver_rx`] could not deliver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RxRefused {
    /// Not connected.
    NotConnected,
    /// Not enough receive requests posted by the frontend (nothing was consumed).
    NoBuffer,
    /// A multi-slot packet for a frontend without `feature-sg`.
    NeedsSg,
}

impl FakeNetback {
    fn map_and<R>(
        &mut self,
        gref: xen_traits::GrantRef,
        writable: bool,
        f: impl FnOnce(&crate::FakePage) -> R,
    ) -> Option<R> {
        match self.grants.map(DomId::DOM0, gref, writable) {
            Ok(page) => {
                let r = f(&page);
                if self.hold {
                    self.held.push(gref);
                } else {
                    self.grants.unmap(gref);
                }
                Some(r)
            }
            Err(e) => {
                self.record(format!("mapping {gref}: {e:?}"));
                None
            }
        }
    }

    /// Take every packet the frontend published, copy it out of its granted pages, answer every slot.
    /// Checks the frontend's requests (chain complete, `offset + size` within the page, sizes
    /// consistent) and records violations.
    pub fn process_tx(&mut self) -> Vec<TxPacket> {
        let mut out = Vec::new();
        let Some(mut ring) = self.tx.take() else {
            return out;
        };
        loop {
            let first = match ring.take_request() {
                Ok(Some(r)) => r,
                Ok(None) => break,
                Err(e) => {
                    self.record(format!("tx ring: {e:?}"));
                    break;
                }
            };
            let mut data_slots = vec![first];
            let mut extras = Vec::new();
            let mut complete = true;
            let mut want_extra = first.flags & NETTXF_EXTRA_INFO != 0;
            while want_extra {
                match ring.take_request() {
                    Ok(Some(r)) => {
                        let e = TxSlot::extra_from_request(&r);
                        want_extra = e.more();
                        extras.push(e);
                    }
                    _ => {
                        complete = false;
                        break;
                    }
                }
            }
            let mut more = first.flags & NETTXF_MORE_DATA != 0;
            while more && complete {
                match ring.take_request() {
                    Ok(Some(r)) => {
                        more = r.flags & NETTXF_MORE_DATA != 0;
                        data_slots.push(r);
                    }
                    _ => complete = false,
                }
            }
            let rest: usize = data_slots[1..].iter().map(|r| usize::from(r.size)).sum();
            let first_size = usize::from(first.size).checked_sub(rest);
            let mut ok = complete && first_size.is_some();
            if !complete {
                self.record("tx: packet chain not complete when published".into());
            } else if first_size.is_none() {
                self.record(format!("tx: total size {} < fragments {rest}", first.size));
            }
            let mut data = Vec::new();
            for (i, r) in data_slots.iter().enumerate() {
                let size = if i == 0 {
                    first_size.unwrap_or(0)
                } else {
                    usize::from(r.size)
                };
                if usize::from(r.offset) + size > PAGE_SIZE {
                    self.record(format!(
                        "tx: slot offset {} + size {size} beyond the page",
                        r.offset
                    ));
                    ok = false;
                    continue;
                }
                let start = data.len();
                data.resize(start + size, 0);
                let off = usize::from(r.offset);
                if self
                    .map_and(r.gref, false, |p| p.read_bytes(off, &mut data[start..]))
                    .is_none()
                {
                    ok = false;
                }
            }
            let status = if ok { NETIF_RSP_OKAY } else { NETIF_RSP_ERROR };
            let mut rsps = vec![TxResponse {
                id: first.id,
                status,
            }];
            rsps.extend(extras.iter().map(|_| TxResponse {
                id: 0,
                status: NETIF_RSP_NULL,
            }));
            rsps.extend(
                data_slots[1..]
                    .iter()
                    .map(|r| TxResponse { id: r.id, status }),
            );
            self.apply_tx_hostile(&mut rsps);
            for r in &rsps {
                if ring.put_response(r).is_err() {
                    self.record("tx: more responses than requests (fake bug)".into());
                }
            }
            if ok {
                out.push(TxPacket {
                    data,
                    flags: first.flags,
                    slots: data_slots.len() + extras.len(),
                    extras,
                });
            }
        }
        let notify = ring.push_responses_and_check_notify();
        if self
            .take_hostile(|h| h == NetHostile::TxRspProdJump)
            .is_some()
        {
            let prod = ring.page().read_u32(layout::RSP_PROD);
            ring.publish_raw_rsp_prod(prod.wrapping_add(1000));
        }
        ring.final_check_for_requests();
        self.tx = Some(ring);
        if notify {
            self.notify();
        }
        out
    }

    fn apply_tx_hostile(&mut self, rsps: &mut [TxResponse]) {
        let Some(h) = self.take_hostile(|h| h.is_tx() && h != NetHostile::TxRspProdJump) else {
            return;
        };
        match h {
            NetHostile::TxBadId => rsps[0].id = 0xffff,
            NetHostile::TxBadStatus => rsps[0].status = 7,
            NetHostile::TxErrorStatus => rsps[0].status = NETIF_RSP_ERROR,
            NetHostile::TxSpuriousNull => rsps[0].status = NETIF_RSP_NULL,
            NetHostile::TxDuplicateId => {
                if let Some(i) = rsps.iter().skip(1).position(|r| r.status != NETIF_RSP_NULL) {
                    rsps[i + 1].id = rsps[0].id;
                } else {
                    // Needs two data slots in one packet: keep it for the next one.
                    self.hostile.push_front(h);
                }
            }
            _ => {}
        }
    }

    /// Deliver one packet into the frontend's posted buffers (one page per 4 KiB, data at offset 0, an
    /// extra-info slot after the first response for GSO), then notify it if it asked.
    pub fn deliver_rx(&mut self, frame: &[u8], meta: RxMeta) -> Result<(), RxRefused> {
        let (Some(mut ring), Some(keys)) = (self.rx.take(), self.keys) else {
            return Err(RxRefused::NotConnected);
        };
        let r = self.deliver_on(&mut ring, keys, frame, meta);
        self.rx = Some(ring);
        r
    }

    fn deliver_on(
        &mut self,
        ring: &mut crate::BackRing<crate::FakePage, RxRequest, RxResponse>,
        keys: super::FrontendKeys,
        frame: &[u8],
        meta: RxMeta,
    ) -> Result<(), RxRefused> {
        loop {
            match ring.take_request() {
                Ok(Some(r)) => self.rx_pending.push_back(r),
                Ok(None) => break,
                Err(e) => {
                    self.record(format!("rx ring: {e:?}"));
                    break;
                }
            }
        }
        let chunks: Vec<&[u8]> = if frame.is_empty() {
            vec![frame]
        } else {
            frame.chunks(PAGE_SIZE).collect()
        };
        if chunks.len() > 1 && !keys.rx_sg {
            return Err(RxRefused::NeedsSg);
        }
        let rx_hostile = |h: NetHostile| !h.is_tx() && h != NetHostile::HoldGrants;
        let hostile = self.take_hostile(rx_hostile);
        let mut extras: Vec<ExtraInfo> = Vec::new();
        if let Some((mss, t)) = meta.gso {
            extras.push(ExtraInfo::Gso {
                size: mss,
                gso_type: t,
                features: 0,
                more: false,
            });
        }
        match hostile {
            Some(NetHostile::RxBadExtra) => {
                extras = vec![ExtraInfo::Other {
                    extra_type: 9,
                    flags: 0,
                    payload: [0; 6],
                }]
            }
            Some(NetHostile::RxEndlessExtras) => {
                extras = (0..5)
                    .map(|_| ExtraInfo::Gso {
                        size: 1448,
                        gso_type: 1,
                        features: 0,
                        more: true,
                    })
                    .collect()
            }
            _ => {}
        }
        let endless = hostile == Some(NetHostile::RxEndlessMoreData);
        let needed = chunks.len() + extras.len();
        if self.rx_pending.len() < needed || (endless && self.rx_pending.is_empty()) {
            if let Some(h) = hostile {
                self.hostile.push_front(h);
            }
            return Err(RxRefused::NoBuffer);
        }
        let data_slots = if endless {
            self.rx_pending.len() - extras.len()
        } else {
            chunks.len()
        };
        for i in 0..data_slots {
            let req = self.rx_pending.pop_front().expect("counted above");
            let chunk: &[u8] = chunks.get(i).copied().unwrap_or(&[]);
            let last = i + 1 == data_slots;
            let mut flags = if last && !endless {
                0
            } else {
                NETRXF_MORE_DATA
            };
            if i == 0 {
                flags |= meta.flags;
                if !extras.is_empty() {
                    flags |= NETRXF_EXTRA_INFO;
                }
            }
            let written = self.map_and(req.gref, true, |p| p.write_bytes(0, chunk));
            let mut rsp = RxResponse {
                id: req.id,
                offset: 0,
                flags,
                status: if written.is_some() {
                    chunk.len() as i16
                } else {
                    NETIF_RSP_ERROR
                },
            };
            if i == 0 {
                match hostile {
                    Some(NetHostile::RxBadId) => rsp.id = rsp.id.wrapping_add(1),
                    Some(NetHostile::RxOffsetBeyondPage) => {
                        rsp.offset = 4000;
                        rsp.status = 200;
                    }
                    Some(NetHostile::RxErrorStatus) => rsp.status = NETIF_RSP_ERROR,
                    Some(NetHostile::RxBadStatus) => rsp.status = -7,
                    _ => {}
                }
            }
            let _ = ring.put_response(&rsp);
            if i == 0 {
                for e in &extras {
                    let _slot = self.rx_pending.pop_front().expect("counted above");
                    let mut b = [0u8; 8];
                    e.encode(&mut b);
                    let _ = ring.put_response(&RxResponse::decode(&b));
                }
            }
        }
        let notify = ring.push_responses_and_check_notify();
        if hostile == Some(NetHostile::RxRspProdJump) {
            let prod = ring.page().read_u32(layout::RSP_PROD);
            ring.publish_raw_rsp_prod(prod.wrapping_add(1000));
        }
        if notify {
            self.notify();
        }
        Ok(())
    }

    /// Receive requests the frontend has posted and we have not used (after taking new ones).
    pub fn rx_available(&mut self) -> usize {
        if let Some(ring) = self.rx.as_mut() {
            while let Ok(Some(r)) = ring.take_request() {
                self.rx_pending.push_back(r);
            }
        }
        self.rx_pending.len()
    }
}
