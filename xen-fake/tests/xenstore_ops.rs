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
