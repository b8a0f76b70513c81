//! The xenstore client against the fake daemon: basic operations, errors, permissions.

use xen_fake::{drive, XenstoreSetup};
use xen_traits::DomId;
use xenbus::{Access, Error, Invalid, Perm, XsErrno};

const GUEST: DomId = DomId(5);

#[test]
fn write_read_directory_rm() {
    let (_s, mut d, xs) = XenstoreSetup::client(GUEST, 0);
    drive(xs.write("data/a", b"hello"), &mut d)
        .unwrap()
        .unwrap();
    drive(xs.write("data/b/c", b"\0binary\xff"), &mut d)
        .unwrap()
        .unwrap();
    assert_eq!(drive(xs.read("data/a"), &mut d).unwrap().unwrap(), b"hello");
    assert_eq!(
        drive(xs.read("/local/domain/5/data/b/c"), &mut d)
            .unwrap()
            .unwrap(),
        b"\0binary\xff"
    );
    assert_eq!(d.value("data/a").unwrap(), b"hello");
    let mut dir = drive(xs.directory("data"), &mut d).unwrap().unwrap();
    dir.sort();
    assert_eq!(dir, ["a", "b"]);
    assert_eq!(
        drive(xs.directory("data/a"), &mut d).unwrap().unwrap(),
        Vec::<String>::new()
    );
    drive(xs.mkdir("data/empty"), &mut d).unwrap().unwrap();
    assert_eq!(drive(xs.read("data/empty"), &mut d).unwrap().unwrap(), b"");
    drive(xs.rm("data/b"), &mut d).unwrap().unwrap();
    assert!(d.value("data/b/c").is_none());
    assert_eq!(
        drive(xs.read("data/b/c"), &mut d).unwrap(),
        Err(Error::Xs(XsErrno::Enoent))
    );
    assert_eq!(
        drive(xs.read_string("name"), &mut d).unwrap().unwrap(),
        "guest5"
    );
    assert_eq!(
        drive(xs.get_domain_path(DomId(5)), &mut d)
            .unwrap()
            .unwrap(),
        "/local/domain/5"
    );
}

#[test]
fn permissions() {
    let (_s, mut d, xs) = XenstoreSetup::client(GUEST, 0);
    // The home directory is dom0's: the guest may read, not write.
    assert_eq!(
        drive(xs.write("name", b"evil"), &mut d).unwrap(),
        Err(Error::Xs(XsErrno::Eacces))
    );
    assert_eq!(
        drive(xs.write("/local/domain/0/x", b"v"), &mut d).unwrap(),
        Err(Error::Xs(XsErrno::Eacces))
    );
    assert_eq!(
        drive(xs.read("/local/domain/0/backend"), &mut d).unwrap(),
        Err(Error::Xs(XsErrno::Eacces))
    );
    drive(xs.write("data/p", b"v"), &mut d).unwrap().unwrap();
    let perms = drive(xs.get_perms("data/p"), &mut d).unwrap().unwrap();
    assert_eq!(
        perms,
        [Perm {
            domid: GUEST,
            access: Access::None
        }]
    );
    let new = [
        Perm {
            domid: GUEST,
            access: Access::None,
        },
        Perm {
            domid: DomId(0),
            access: Access::Read,
        },
    ];
    drive(xs.set_perms("data/p", &new), &mut d)
        .unwrap()
        .unwrap();
    assert_eq!(drive(xs.get_perms("data/p"), &mut d).unwrap().unwrap(), new);
    assert_eq!(
        drive(xs.set_perms("name", &new), &mut d).unwrap(),
        Err(Error::Xs(XsErrno::Eacces)),
        "only the owner may change permissions"
    );
}

#[test]
fn invalid_requests_are_not_sent() {
    let (_s, mut d, xs) = XenstoreSetup::client(GUEST, 0);
    assert_eq!(
        drive(xs.read(""), &mut d).unwrap(),
        Err(Error::Invalid(Invalid::BadString))
    );
    assert_eq!(
        drive(xs.read("a\0b"), &mut d).unwrap(),
        Err(Error::Invalid(Invalid::BadString))
    );
    assert_eq!(
        drive(xs.write("data/x", &[0u8; 4096]), &mut d).unwrap(),
        Err(Error::Invalid(Invalid::PayloadTooLong))
    );
    assert_eq!(
        drive(xs.set_perms("data", &[]), &mut d).unwrap(),
        Err(Error::Invalid(Invalid::NoPerms))
    );
    assert!(d.received().is_empty(), "nothing reached the daemon");
    // The daemon's own validation answers EINVAL for paths we cannot know are bad.
    assert_eq!(
        drive(xs.read("data//x"), &mut d).unwrap(),
        Err(Error::Xs(XsErrno::Einval))
    );
}

#[test]
fn largest_payload_crosses_the_ring_several_times() {
    // A 4096-byte payload is four times the 1024-byte ring: the client must send it in pieces as the
    // daemon consumes, and reassemble the 4096-byte reply the same way.
    let (_s, mut d, xs) = XenstoreSetup::client(GUEST, 0);
    let path = "data/big";
    let value: Vec<u8> = (0..4096 - path.len() - 1)
        .map(|i| (i * 7 % 251) as u8)
        .collect();
    drive(xs.write(path, &value), &mut d).unwrap().unwrap();
    assert_eq!(d.value(path).unwrap(), value);
    assert_eq!(drive(xs.read(path), &mut d).unwrap().unwrap(), value);
}

#[test]
fn notifies_the_daemon() {
    let (s, mut d, xs) = XenstoreSetup::client(GUEST, 0);
    drive(xs.write("data/a", b"1"), &mut d).unwrap().unwrap();
    assert!(s.guest_evtchn.notify_count(s.guest_port) >= 1);
    assert!(s.hub.domain(DomId(0)).notify_count(s.daemon_port) >= 1);
}

fn many_children(d: &mut xen_fake::FakeXenstored, n: usize) -> Vec<String> {
    let names: Vec<String> = (0..n)
        .map(|i| format!("child-with-a-long-name-{i:05}"))
        .collect();
    for name in &names {
        d.dom0_write(&format!("data/long/{name}"), b"");
    }
    let mut sorted = names.clone();
    sorted.sort();
    sorted
}

#[test]
fn long_directories_are_read_in_parts() {
    let (_s, mut d, xs) = XenstoreSetup::client(GUEST, 0);
    let want = many_children(&mut d, 400); // ~11 KiB of names: XS_DIRECTORY says E2BIG
    let got = drive(xs.directory("data/long"), &mut d).unwrap().unwrap();
    assert_eq!(got, want);
    let parts = d
        .received()
        .iter()
        .filter(|r| r.msg_type == xenbus::MsgType::DirectoryPart as u32)
        .count();
    assert!(parts >= 3, "{parts} parts");
}

#[test]
fn long_directory_restarts_when_it_changes_while_listed() {
    use std::pin::pin;
    use std::task::Poll;
    let (_s, mut d, xs) = XenstoreSetup::client(GUEST, 0);
    let mut want = many_children(&mut d, 400);
    let mut fut = pin!(xs.directory("data/long"));
    let mut changed = false;
    let mut idle = 0;
    let got = loop {
        if let Poll::Ready(v) = xen_fake::poll_once(fut.as_mut()) {
            break v.unwrap();
        }
        let parts = d
            .received()
            .iter()
            .filter(|r| r.msg_type == xenbus::MsgType::DirectoryPart as u32)
            .count();
        if parts == 1 && !changed {
            d.run_until_idle();
            d.dom0_write("data/long/zzz-added-meanwhile", b"");
            changed = true;
        }
        idle = if d.run_until_idle() { 0 } else { idle + 1 };
        assert!(idle < 3, "stalled");
    };
    want.push("zzz-added-meanwhile".into());
    assert_eq!(got, want);
    let restarts = d
        .received()
        .iter()
        .filter(|r| {
            r.msg_type == xenbus::MsgType::DirectoryPart as u32 && r.payload.ends_with(b"\x000\0")
        })
        .count();
    assert_eq!(restarts, 2, "listed from offset 0 twice");
}

#[test]
fn directory_part_that_never_ends_is_rejected() {
    let (_s, mut d, xs) = XenstoreSetup::client(GUEST, 0);
    many_children(&mut d, 400);
    d.push_hostile(xen_fake::Hostile::Normal); // the E2BIG
    d.push_hostile(xen_fake::Hostile::BadPayload(b"1\0".to_vec())); // no names, no end
    assert_eq!(
        drive(xs.directory("data/long"), &mut d).unwrap(),
        Err(Error::Malformed(xenbus::Malformed::NotNulTerminated))
    );
}
