//! The fake xenstored's data: a tree of nodes with permissions, as C xenstored keeps it.

use std::collections::BTreeMap;

use xen_traits::DomId;
use xenbus::{Access, Perm, XsErrno};

/// One node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// Its value.
    pub value: Vec<u8>,
    /// Its permissions; the first entry is the owner and the default access.
    pub perms: Vec<Perm>,
}

/// What a modification touched: the paths for watches (absolute) and whether it was a removal.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// (absolute path, removed?)
    pub paths: Vec<(String, bool)>,
}

/// The tree: absolute path → node. The root `/` always exists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tree {
    nodes: BTreeMap<String, Node>,
}

impl Default for Tree {
    fn default() -> Self {
        let mut nodes = BTreeMap::new();
        nodes.insert(
            "/".to_string(),
            Node {
                value: Vec::new(),
                perms: vec![perm(0, Access::None)],
            },
        );
        Tree { nodes }
    }
}

/// Shorthand for a permission entry.
pub fn perm(dom: u16, access: Access) -> Perm {
    Perm {
        domid: DomId(dom),
        access,
    }
}

/// The parent of an absolute path (`/a/b` → `/a`, `/a` → `/`).
pub fn parent(path: &str) -> Option<&str> {
    if path == "/" {
        return None;
    }
    match path.rfind('/') {
        Some(0) => Some("/"),
        Some(i) => Some(&path[..i]),
        None => None,
    }
}

/// Whether `path` is at or below `base`.
pub fn is_at_or_under(path: &str, base: &str) -> bool {
    path == base
        || base == "/"
        || (path.starts_with(base) && path.as_bytes().get(base.len()) == Some(&b'/'))
}

/// Valid absolute node path (as C xenstored checks them).
pub fn valid_path(path: &str) -> bool {
    path.starts_with('/')
        && path.len() <= xenbus::wire::XENSTORE_ABS_PATH_MAX
        && (path == "/" || !path.ends_with('/'))
        && !path.contains("//")
        && path
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"/_@-".contains(&c))
}

fn access_of(dom: DomId, perms: &[Perm]) -> Access {
    if dom == DomId::DOM0 {
        return Access::Both;
    }
    let Some(first) = perms.first() else {
        return Access::None;
    };
    if first.domid == dom {
        return Access::Both;
    }
    perms[1..]
        .iter()
        .find(|p| p.domid == dom)
        .map(|p| p.access)
        .unwrap_or(first.access)
}

impl Tree {
    /// The node at `path`.
    pub fn get(&self, path: &str) -> Option<&Node> {
        self.nodes.get(path)
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether only the root exists.
    pub fn is_empty(&self) -> bool {
        self.nodes.len() <= 1
    }

    /// Read access check then value.
    pub fn read(&self, dom: DomId, path: &str) -> Result<&Node, XsErrno> {
        let n = self.nodes.get(path).ok_or(XsErrno::Enoent)?;
        if !access_of(dom, &n.perms).can_read() {
            return Err(XsErrno::Eacces);
        }
        Ok(n)
    }

    /// Names of the children of `path`.
    pub fn children(&self, dom: DomId, path: &str) -> Result<Vec<String>, XsErrno> {
        self.read(dom, path)?;
        let prefix = if path == "/" {
            "/".to_string()
        } else {
            format!("{path}/")
        };
        Ok(self
            .nodes
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .filter_map(|(k, _)| {
                let rest = &k[prefix.len()..];
                (!rest.is_empty() && !rest.contains('/')).then(|| rest.to_string())
            })
            .collect())
    }

    /// Create `path` and missing ancestors (checking write access on the nearest existing ancestor).
    fn create(&mut self, dom: DomId, path: &str, ch: &mut Changes) -> Result<(), XsErrno> {
        if self.nodes.contains_key(path) {
            return Ok(());
        }
        let mut missing = vec![path.to_string()];
        let mut cur = path;
        let anc = loop {
            let p = parent(cur).ok_or(XsErrno::Einval)?;
            if let Some(n) = self.nodes.get(p) {
                break n.clone();
            }
            missing.push(p.to_string());
            cur = p;
        };
        if !access_of(dom, &anc.perms).can_write() {
            return Err(XsErrno::Eacces);
        }
        // As C xenstored: new nodes copy the parent's permissions; an unprivileged creator becomes owner.
        let mut perms = anc.perms.clone();
        if dom != DomId::DOM0 {
            perms[0].domid = dom;
        }
        for p in missing.into_iter().rev() {
            self.nodes.insert(
                p,
                Node {
                    value: Vec::new(),
                    perms: perms.clone(),
                },
            );
        }
        // Watches fire for the node asked for (watches are recursive, so this covers its new parents' watchers).
        ch.paths.push((path.to_string(), false));
        Ok(())
    }

    /// `XS_WRITE`.
    pub fn write(
        &mut self,
        dom: DomId,
        path: &str,
        value: &[u8],
        ch: &mut Changes,
    ) -> Result<(), XsErrno> {
        if let Some(n) = self.nodes.get(path) {
            if !access_of(dom, &n.perms).can_write() {
                return Err(XsErrno::Eacces);
            }
        } else {
            self.create(dom, path, ch)?;
        }
        if let Some(n) = self.nodes.get_mut(path) {
            n.value = value.to_vec();
        }
        if !ch.paths.iter().any(|(p, _)| p == path) {
            ch.paths.push((path.to_string(), false));
        }
        Ok(())
    }

    /// `XS_MKDIR`.
    pub fn mkdir(&mut self, dom: DomId, path: &str, ch: &mut Changes) -> Result<(), XsErrno> {
        self.create(dom, path, ch)
    }

    /// `XS_RM`: removing a missing node whose parent exists succeeds (as in C xenstored).
    pub fn rm(&mut self, dom: DomId, path: &str, ch: &mut Changes) -> Result<(), XsErrno> {
        if path == "/" {
            return Err(XsErrno::Einval);
        }
        let Some(n) = self.nodes.get(path) else {
            return match parent(path).and_then(|p| self.nodes.get(p)) {
                Some(_) => Ok(()),
                None => Err(XsErrno::Enoent),
            };
        };
        if !access_of(dom, &n.perms).can_write() {
            return Err(XsErrno::Eacces);
        }
        self.nodes.retain(|k, _| !is_at_or_under(k, path));
        ch.paths.push((path.to_string(), true));
        Ok(())
    }

    /// `XS_GET_PERMS`.
    pub fn get_perms(&self, dom: DomId, path: &str) -> Result<Vec<Perm>, XsErrno> {
        Ok(self.read(dom, path)?.perms.clone())
    }

    /// `XS_SET_PERMS`: only the owner (or dom0) may.
    pub fn set_perms(
        &mut self,
        dom: DomId,
        path: &str,
        perms: Vec<Perm>,
        ch: &mut Changes,
    ) -> Result<(), XsErrno> {
        if perms.is_empty() {
            return Err(XsErrno::Einval);
        }
        let n = self.nodes.get_mut(path).ok_or(XsErrno::Enoent)?;
        if dom != DomId::DOM0 && n.perms[0].domid != dom {
            return Err(XsErrno::Eacces);
        }
        n.perms = perms;
        ch.paths.push((path.to_string(), false));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_inherits_and_checks() {
        let mut t = Tree::default();
        let mut ch = Changes::default();
        t.mkdir(DomId(0), "/local/domain/5", &mut ch).unwrap();
        t.set_perms(
            DomId(0),
            "/local/domain/5",
            vec![perm(0, Access::None), perm(5, Access::Read)],
            &mut ch,
        )
        .unwrap();
        assert_eq!(
            t.write(DomId(5), "/local/domain/5/x", b"v", &mut ch),
            Err(XsErrno::Eacces)
        );
        t.mkdir(DomId(0), "/local/domain/5/data", &mut ch).unwrap();
        t.set_perms(
            DomId(0),
            "/local/domain/5/data",
            vec![perm(5, Access::None)],
            &mut ch,
        )
        .unwrap();
        t.write(DomId(5), "/local/domain/5/data/a/b", b"v", &mut ch)
            .unwrap();
        assert_eq!(
            t.get("/local/domain/5/data/a").unwrap().perms[0].domid,
            DomId(5)
        );
        assert_eq!(
            t.read(DomId(6), "/local/domain/5/data/a/b").err(),
            Some(XsErrno::Eacces)
        );
        assert_eq!(
            t.children(DomId(5), "/local/domain/5/data").unwrap(),
            vec!["a".to_string()]
        );
        assert_eq!(
            t.rm(DomId(5), "/local/domain/5/data/nothere", &mut ch),
            Ok(())
        );
        assert_eq!(
            t.rm(DomId(5), "/local/domain/5/data/no/there", &mut ch),
            Err(XsErrno::Enoent)
        );
        t.rm(DomId(5), "/local/domain/5/data/a", &mut ch).unwrap();
        assert!(t.get("/local/domain/5/data/a/b").is_none());
        assert!(is_at_or_under("/a/b", "/a"));
        assert!(!is_at_or_under("/ab", "/a"));
        assert!(valid_path("/a/b-c_d@e"));
        assert!(
            !valid_path("/a//b") && !valid_path("a") && !valid_path("/a/") && !valid_path("/a b")
        );
    }
}
