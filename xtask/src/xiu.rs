//! xiu, the Rust streaming server with WHIP/WHEP, for the fan-out comparison.
//!
//! Nothing of xiu lives in this repository. [`build_xiu`] fetches the published 0.14.0
//! source with cargo (a throw-away package that depends on it), copies it and its WebRTC
//! crate `xwebrtc` into a cache directory outside the clone, applies the few textual edits
//! in [`EDITS`] (each says why), and builds it with `--release`. The binary is reused
//! until the edits change.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::sh::{cmd, fnv1a};

pub(crate) const VERSION: &str = "0.14.0";

/// Which crate of the build an edit applies to.
#[derive(Clone, Copy)]
enum Krate {
    /// `xiu` itself: the binary, its service set-up and its manifest.
    Xiu,
    /// `xwebrtc`, xiu's WHIP/WHEP crate (the version xiu's Cargo.lock pins).
    Xwebrtc,
}

struct Edit {
    krate: Krate,
    file: &'static str,
    find: &'static str,
    replace: &'static str,
    why: &'static str,
}

/// The edits, applied to every occurrence of `find` (at least one must exist).
///
/// Not edited: xiu's WHIP side treats only payload type 96 as H.264 (and 111 as Opus).
/// Rather than change its media path, the bench's bots offer H.264 at 96 to xiu.
const EDITS: &[Edit] = &[
    Edit {
        krate: Krate::Xiu,
        file: "Cargo.toml",
        find: "[dependencies.xwebrtc]",
        replace: "[dependencies.rustls]\nversion = \"0.23\"\ndefault-features = false\nfeatures = [\"ring\", \"std\"]\n\n[dependencies.xwebrtc]",
        why: "a direct dependency on rustls (already in xiu's lock file, same version and \
              features) so that main can install a crypto provider (next edit)",
    },
    Edit {
        krate: Krate::Xiu,
        file: "src/main.rs",
        find: "async fn main() -> Result<()> {\n",
        replace: "async fn main() -> Result<()> {\n    let _ = rustls::crypto::ring::default_provider().install_default();\n",
        why: "webrtc 0.17's DTLS uses rustls 0.23, which in xiu's dependency graph has both the \
              ring and aws-lc-rs providers enabled (aws-sdk-s3 brings the latter), so rustls \
              cannot choose a process default and the first DTLS handshake panics (\"Could not \
              automatically determine the process-level CryptoProvider\"); ring is what \
              webrtc's own crates use",
    },
    Edit {
        krate: Krate::Xiu,
        file: "src/service.rs",
        find: "format!(\"0.0.0.0:{listen_port}\")",
        replace: "format!(\"127.0.0.1:{listen_port}\")",
        why: "the WHIP/WHEP (and the disabled RTMP/RTSP) listeners bind loopback only: the \
              comparison server is reachable from this machine alone",
    },
    Edit {
        krate: Krate::Xiu,
        file: "src/api.rs",
        find: "Ipv4Addr::UNSPECIFIED",
        replace: "Ipv4Addr::LOCALHOST",
        why: "the HTTP API, which xiu always starts, binds loopback only",
    },
    Edit {
        krate: Krate::Xwebrtc,
        file: "src/whip.rs",
        find: "urls: vec![\"stun:stun.l.google.com:19302\".to_owned()],",
        replace: "urls: vec![],",
        why: "no STUN server: gathering would resolve and query stun.l.google.com, traffic that \
              must not leave loopback (and server-reflexive candidates mean nothing here)",
    },
    Edit {
        krate: Krate::Xwebrtc,
        file: "src/whep.rs",
        find: "urls: vec![\"stun:stun.l.google.com:19302\".to_owned()],",
        replace: "urls: vec![],",
        why: "as for WHIP",
    },
    Edit {
        krate: Krate::Xwebrtc,
        file: "src/whip.rs",
        find: "let api = APIBuilder::new()\n        .with_media_engine(m)",
        replace: LOOPBACK_API,
        why: "webrtc-rs leaves out loopback host candidates unless told to include them, so \
              out of the box xiu offers none that a peer on 127.0.0.1 can reach; and only \
              loopback addresses may be gathered (no candidate on another interface, no mDNS)",
    },
    Edit {
        krate: Krate::Xwebrtc,
        file: "src/whep.rs",
        find: "let api = APIBuilder::new()\n        .with_media_engine(m)",
        replace: LOOPBACK_API,
        why: "as for WHIP",
    },
    Edit {
        krate: Krate::Xwebrtc,
        file: "src/session/mod.rs",
        find: "self.session_id = Some(Uuid::new(RandomDigitCount::Zero));",
        replace: "self.session_id = Some(Uuid::new(RandomDigitCount::Six));",
        why: "a WHIP/WHEP session id is the Unix time in whole seconds with no random digits, \
              and the stream hub keys each viewer's packet channel by it: every viewer that \
              arrives in the same second replaces the one before, which then receives nothing \
              while its forwarding task spins on the closed channel (a class of 5 measured \
              1 viewer served and 1.2 cores busy); six random digits, the most xiu's ids \
              hold (its RTMP and HTTP-FLV sessions use four), make ids distinct",
    },
];

const LOOPBACK_API: &str =
    "let mut setting_engine = webrtc::api::setting_engine::SettingEngine::default();
    setting_engine.set_include_loopback_candidate(true);
    setting_engine.set_ip_filter(Box::new(|ip: std::net::IpAddr| ip.is_loopback()));
    setting_engine.set_ice_multicast_dns_mode(webrtc::ice::mdns::MulticastDnsMode::Disabled);
    let api = APIBuilder::new()
        .with_setting_engine(setting_engine)
        .with_media_engine(m)";

/// `$XDG_CACHE_HOME/lectern/xiu-0.14.0` (or `~/.cache/…`): outside the repository.
fn cache_dir() -> Result<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))
        .context("neither XDG_CACHE_HOME nor HOME is set")?;
    Ok(base.join("lectern").join(format!("xiu-{VERSION}")))
}

/// A fingerprint of the edits, so a changed edit rebuilds the binary.
fn edits_stamp() -> String {
    let mut text = String::from(VERSION);
    for e in EDITS {
        text.push_str(e.file);
        text.push_str(e.find);
        text.push_str(e.replace);
    }
    format!("{:016x}", fnv1a(text.as_bytes()))
}

/// Builds (or reuses) the edited xiu and returns the path of its binary.
pub(crate) fn build_xiu() -> Result<PathBuf> {
    let dir = cache_dir()?;
    let bin = dir.join("bin").join("xiu");
    let stamp_file = dir.join("bin").join("edits.stamp");
    let stamp = edits_stamp();
    if bin.is_file() && std::fs::read_to_string(&stamp_file).ok().as_deref() == Some(&stamp) {
        eprintln!("xtask: reusing xiu {VERSION} from {}", bin.display());
        return Ok(bin);
    }
    eprintln!(
        "xtask: building xiu {VERSION} in {} (about 11 minutes on two cores)",
        dir.display()
    );

    // 1. xiu's published source, through cargo: a package that only depends on it.
    let fetch = dir.join("fetch");
    std::fs::create_dir_all(fetch.join("src"))?;
    std::fs::write(
        fetch.join("Cargo.toml"),
        format!(
            "[package]\nname = \"xiu-fetch\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
             [dependencies]\nxiu = \"={VERSION}\"\n\n[workspace]\n"
        ),
    )?;
    std::fs::write(fetch.join("src/lib.rs"), "")?;
    cmd("cargo").arg("fetch").dir(&fetch).run()?;
    let pristine = registry_source(&format!("xiu-{VERSION}"))?;

    // 2. A fresh copy to edit, with the versions its own Cargo.lock pins.
    let src = dir.join("src");
    if src.exists() {
        std::fs::remove_dir_all(&src)?;
    }
    let xiu = src.join(format!("xiu-{VERSION}"));
    copy_dir(&pristine, &xiu)?;
    cmd("cargo").args(["fetch", "--locked"]).dir(&xiu).run()?;
    let lock = std::fs::read_to_string(xiu.join("Cargo.lock"))?;
    let xwebrtc_version = locked_version(&lock, "xwebrtc").with_context(|| {
        format!("xiu {VERSION}: its Cargo.lock names no xwebrtc (its WHIP/WHEP crate)")
    })?;
    let xwebrtc = src.join(format!("xwebrtc-{xwebrtc_version}"));
    copy_dir(
        &registry_source(&format!("xwebrtc-{xwebrtc_version}"))?,
        &xwebrtc,
    )?;

    // 3. The edits, then the edited xwebrtc in place of the published one.
    for e in EDITS {
        let root = match e.krate {
            Krate::Xiu => &xiu,
            Krate::Xwebrtc => &xwebrtc,
        };
        apply(root, e)?;
    }
    let manifest = xiu.join("Cargo.toml");
    let mut toml = std::fs::read_to_string(&manifest)?;
    toml.push_str(&format!(
        "\n[patch.crates-io]\nxwebrtc = {{ path = \"../xwebrtc-{xwebrtc_version}\" }}\n"
    ));
    std::fs::write(&manifest, toml)?;

    // 4. Build (offline: everything was fetched above) and keep the binary.
    cmd("cargo")
        .args(["build", "--release", "--offline", "--bin", "xiu"])
        .env("CARGO_TARGET_DIR", dir.join("target"))
        .dir(&xiu)
        .run()
        .with_context(|| format!("building the edited xiu {VERSION}"))?;
    std::fs::create_dir_all(dir.join("bin"))?;
    std::fs::copy(dir.join("target/release/xiu"), &bin)?;
    std::fs::write(&stamp_file, stamp)?;
    eprintln!("xtask: xiu {VERSION} built: {}", bin.display());
    Ok(bin)
}

fn apply(root: &Path, e: &Edit) -> Result<()> {
    let path = root.join(e.file);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("xiu {VERSION}: cannot read {}", path.display()))?;
    if !text.contains(e.find) {
        bail!(
            "xiu {VERSION}: expected `{}` in {} and did not find it; this edit ({}) was written \
             for xiu {VERSION}'s published source",
            e.find.escape_debug(),
            path.display(),
            e.why
        );
    }
    std::fs::write(&path, text.replace(e.find, e.replace))?;
    Ok(())
}

/// The unpacked source of `name-version` in cargo's registry cache.
fn registry_source(dir_name: &str) -> Result<PathBuf> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))
        .context("neither CARGO_HOME nor HOME is set")?;
    let registries = home.join("registry").join("src");
    for entry in std::fs::read_dir(&registries)
        .with_context(|| format!("no cargo registry sources in {}", registries.display()))?
    {
        let candidate = entry?.path().join(dir_name);
        if candidate.join("Cargo.toml").is_file() {
            return Ok(candidate);
        }
    }
    bail!(
        "cargo fetched xiu {VERSION}, but {dir_name} is not under {}",
        registries.display()
    )
}

/// The version of `name` in a Cargo.lock (the first, if several).
fn locked_version(lock: &str, name: &str) -> Option<String> {
    let at = lock.find(&format!("name = \"{name}\"\nversion = \""))?;
    let rest = &lock[at..].lines().nth(1)?;
    Some(
        rest.trim_start_matches("version = \"")
            .trim_end_matches('"')
            .to_owned(),
    )
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_locked_version() {
        let lock = "[[package]]\nname = \"xflv\"\nversion = \"0.4.5\"\n\n[[package]]\nname = \"xwebrtc\"\nversion = \"0.3.6\"\nsource = \"registry\"\n";
        assert_eq!(locked_version(lock, "xwebrtc").as_deref(), Some("0.3.6"));
        assert_eq!(locked_version(lock, "xiu"), None);
    }

    #[test]
    fn a_missing_string_names_the_version() {
        let dir = std::env::temp_dir().join(format!("xtask-xiu-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("Cargo.toml"), "[package]\n").unwrap();
        let err = apply(&dir, &EDITS[0]).unwrap_err().to_string();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(err.contains("xiu 0.14.0"), "{err}");
    }
}
