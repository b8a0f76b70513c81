//! Ways the fake netback can misbehave, to test that netfront never trusts it.

/// A misbehaviour, applied once to the next response it concerns (in queue order per direction), except
/// [`NetHostile::HoldGrants`], which stays on until [`super::FakeNetback::release_grants`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetHostile {
    /// The next tx response carries an id outside the ring (0xffff).
    TxBadId,
    /// The next two tx responses carry the same id (the first one's).
    TxDuplicateId,
    /// The next tx response has a status that is no `NETIF_RSP_*` (7).
    TxBadStatus,
    /// The next tx response reports `NETIF_RSP_ERROR` (legitimate: counted, not fatal).
    TxErrorStatus,
    /// The next tx response is `NETIF_RSP_NULL` although the slot held data.
    TxSpuriousNull,
    /// After the next tx responses, publish `rsp_prod` 1000 further than written.
    TxRspProdJump,
    /// The next rx response carries the wrong id.
    RxBadId,
    /// The next rx response has `offset + size` beyond the page.
    RxOffsetBeyondPage,
    /// The next delivered packet never ends: every posted buffer answered with `more_data`.
    RxEndlessMoreData,
    /// The next rx response reports `NETIF_RSP_ERROR` (legitimate: the packet is dropped).
    RxErrorStatus,
    /// The next rx response has a negative status that is no `NETIF_RSP_*` (-7).
    RxBadStatus,
    /// The next delivered packet carries an extra-info slot of an invalid type (9).
    RxBadExtra,
    /// The next delivered packet carries five chained extra-info slots.
    RxEndlessExtras,
    /// After the next delivered packet, publish `rsp_prod` 1000 further than written.
    RxRspProdJump,
    /// Keep every granted buffer page mapped after use (until `release_grants`).
    HoldGrants,
}

impl NetHostile {
    /// Whether it concerns the tx ring.
    pub fn is_tx(self) -> bool {
        matches!(
            self,
            NetHostile::TxBadId
                | NetHostile::TxDuplicateId
                | NetHostile::TxBadStatus
                | NetHostile::TxErrorStatus
                | NetHostile::TxSpuriousNull
                | NetHostile::TxRspProdJump
        )
    }
}
