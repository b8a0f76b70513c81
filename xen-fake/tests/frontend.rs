//! Device discovery and the frontend state machine against the fake daemon.

use std::pin::pin;

use xen_fake::{drive, poll_once, XenstoreSetup};
use xen_traits::DomId;
use xenbus::discovery::{self, DeviceInfo, VBD, VIF};
use xenbus::{Error, Frontend, Invalid, Malformed, XenbusState};

const GUEST: DomId = DomId(9);

#[test]
fn discovers_vifs_and_vbds() {
    let (_s, mut d, xs) = XenstoreSetup::client(GUEST, 0);
    assert_eq!(
        drive(discovery::discover(&xs, VIF), &mut d)
            .unwrap()
            .unwrap(),
        vec![]
    );
    d.add_device(VIF, 1, DomId(0));
    d.add_device(VIF, 0, DomId(3));
    d.add_device(VBD, 51712, DomId(0));
    let vifs = drive(discovery::discover(&xs, VIF), &mut d)
        .unwrap()
        .unwrap();
    assert_eq!(
        vifs,
        vec![
            DeviceInfo {
                id: 0,
                nodename: "device/vif/0".into(),
                backend: "/local/domain/3/backend/vif/9/0".into(),
                backend_id: DomId(3),
            },
            DeviceInfo {
                id: 1,
                nodename: "device/vif/1".into(),
                backend: "/local/domain/0/backend/vif/9/1".into(),
                backend_id: DomId(0),
            },
        ]
    );
    let vbds = drive(discovery::discover(&xs, VBD), &mut d)
        .unwrap()
        .unwrap();
    assert_eq!(vbds.len(), 1);
    assert_eq!(vbds[0].id, 51712);
}

#[test]
fn bad_device_entries_are_skipped_not_fatal() {
    let (_s, mut d, xs) = XenstoreSetup::client(GUEST, 0);
    d.add_device(VIF, 0, DomId(0));
    d.add_device(VIF, 1, DomId(0));
    d.add_device(VIF, 2, DomId(0));
    d.dom0_write("device/vif/1/backend", b"/local/domain/4/backend/vif/9/1"); // not in backend's home
    d.dom0_write("device/vif/2/backend-id", b"32752"); // DOMID_FIRST_RESERVED
    d.dom0_mkdir("device/vif/eth0"); // not an id
    assert_eq!(
        drive(discovery::list_devices(&xs, VIF), &mut d)
            .unwrap()
            .unwrap(),
        vec![0, 1, 2]
    );
    assert_eq!(
        drive(discovery::device_info(&xs, VIF, 1), &mut d).unwrap(),
        Err(Error::Malformed(Malformed::BadPath))
    );
    assert_eq!(
        drive(discovery::device_info(&xs, VIF, 2), &mut d).unwrap(),
        Err(Error::Malformed(Malformed::BadNumber))
    );
    let found = drive(discovery::discover(&xs, VIF), &mut d)
        .unwrap()
        .unwrap();
    assert_eq!(found.iter().map(|d| d.id).collect::<Vec<_>>(), vec![0]);
}

#[test]
fn handshake_follows_the_backend() {
    let (_s, mut d, xs) = XenstoreSetup::client(GUEST, 0);
    let (front, back) = d.add_device(VIF, 0, DomId(0));
    let dev = drive(discovery::device_info(&xs, VIF, 0), &mut d)
        .unwrap()
        .unwrap();
    let mut fe = Frontend::new(dev);
    assert_eq!(
        drive(fe.backend_state(&xs), &mut d).unwrap().unwrap(),
        XenbusState::Initialising
    );

    // Wait for the backend to reach InitWait; it gets there only when dom0 says so.
    {
        let mut wait = pin!(fe.wait_for_backend(&xs, |s| s == XenbusState::InitWait));
        assert!(poll_once(wait.as_mut()).is_pending());
        d.run_until_idle();
        assert!(poll_once(wait.as_mut()).is_pending());
        d.run_until_idle();
        assert!(poll_once(wait.as_mut()).is_pending(), "still Initialising");
        d.dom0_write(&format!("{back}/state"), b"2");
        assert_eq!(drive(wait, &mut d).unwrap().unwrap(), XenbusState::InitWait);
    }
    assert!(d.watches().is_empty(), "the wait removed its watch");

    drive(fe.switch_state(&xs, XenbusState::Initialised), &mut d)
        .unwrap()
        .unwrap();
    assert_eq!(d.value(&format!("{front}/state")).unwrap(), b"3");
    assert_eq!(
        drive(fe.switch_state(&xs, XenbusState::InitWait), &mut d).unwrap(),
        Err(Error::Invalid(Invalid::StateTransition))
    );
    d.dom0_write(&format!("{back}/state"), b"4");
    assert_eq!(
        drive(
            fe.wait_for_backend(&xs, |s| s == XenbusState::Connected),
            &mut d
        )
        .unwrap()
        .unwrap(),
        XenbusState::Connected
    );
    drive(fe.switch_state(&xs, XenbusState::Connected), &mut d)
        .unwrap()
        .unwrap();
    assert_eq!(fe.state(), XenbusState::Connected);

    // The backend closing while we wait for something else is reported.
    d.dom0_write(&format!("{back}/state"), b"5");
    assert_eq!(
        drive(
            fe.wait_for_backend(&xs, |s| s == XenbusState::Reconfigured),
            &mut d
        )
        .unwrap(),
        Err(Error::BackendClosed(XenbusState::Closing))
    );
    // A garbage state value is an error, not a panic.
    d.dom0_write(&format!("{back}/state"), b"banana");
    assert_eq!(
        drive(fe.backend_state(&xs), &mut d).unwrap(),
        Err(Error::Malformed(Malformed::BadState))
    );
    // A vanished backend reads as Unknown.
    d.dom0_rm(&back);
    assert_eq!(
        drive(fe.backend_state(&xs), &mut d).unwrap().unwrap(),
        XenbusState::Unknown
    );
    drive(fe.switch_state(&xs, XenbusState::Closing), &mut d)
        .unwrap()
        .unwrap();
    drive(fe.switch_state(&xs, XenbusState::Closed), &mut d)
        .unwrap()
        .unwrap();
    assert_eq!(d.value(&format!("{front}/state")).unwrap(), b"6");
}

#[test]
fn shutdown_and_sysrq_requests_are_taken_once() {
    use xenbus::control::{self, ShutdownRequest};
    let (_s, mut d, xs) = XenstoreSetup::client(GUEST, 0);
    drive(
        control::advertise_features(&xs, &["poweroff", "reboot", "sysrq"]),
        &mut d,
    )
    .unwrap()
    .unwrap();
    assert_eq!(d.value("control/feature-reboot").unwrap(), b"1");
    assert_eq!(
        drive(control::take_shutdown_request(&xs), &mut d).unwrap(),
        Ok(None)
    );
    let w = drive(xs.watch(control::SHUTDOWN), &mut d).unwrap().unwrap();
    drive(w.next(), &mut d).unwrap().unwrap();
    d.dom0_write(control::SHUTDOWN, b"reboot");
    drive(w.next(), &mut d).unwrap().unwrap();
    assert_eq!(
        drive(control::take_shutdown_request(&xs), &mut d).unwrap(),
        Ok(Some(ShutdownRequest::Reboot))
    );
    assert_eq!(
        d.value(control::SHUTDOWN).unwrap(),
        b"",
        "acknowledged by clearing"
    );
    assert_eq!(
        drive(control::take_shutdown_request(&xs), &mut d).unwrap(),
        Ok(None)
    );
    d.dom0_write(control::SHUTDOWN, b"bogus");
    assert_eq!(
        drive(control::take_shutdown_request(&xs), &mut d).unwrap(),
        Ok(Some(ShutdownRequest::Unknown))
    );
    assert_eq!(d.value(control::SHUTDOWN).unwrap(), b"");
    // A conflicting toolstack write during the acknowledgement is retried.
    d.dom0_write(control::SHUTDOWN, b"poweroff");
    d.force_conflicts(1);
    assert_eq!(
        drive(control::take_shutdown_request(&xs), &mut d).unwrap(),
        Ok(Some(ShutdownRequest::Poweroff))
    );
    d.dom0_write(control::SYSRQ, b"t");
    assert_eq!(
        drive(control::take_sysrq(&xs), &mut d).unwrap(),
        Ok(Some(b't'))
    );
    assert_eq!(drive(control::take_sysrq(&xs), &mut d).unwrap(), Ok(None));
}
