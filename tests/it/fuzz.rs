//! Property tests over the readers and parsers that take untrusted input: the archive and
//! layout readers, the image-reference and duration parsers, task-definition patching and
//! template rendering. Each must answer every input with a value or an error: no panic, and in
//! bounded time. `PROPTEST_CASES` scales the runs (the counts below are the defaults).

use proptest::prelude::*;
use serde_json::{json, Value};
use std::io::Write;
use stevedore::ecs::taskdef::{apply, diff, registrable, Changes};
use stevedore::image::reference::ImageRef;

/// Arbitrary JSON, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("name".to_string()),
                    Just("image".to_string()),
                    Just("containerDefinitions".to_string()),
                    Just("environment".to_string()),
                    Just("value".to_string()),
                    "[a-z]{1,6}".prop_map(String::from)
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A tar archive of entries with arbitrary names, kinds, link targets and contents; `cut`
/// truncates it (as a broken download would).
fn any_tar() -> impl Strategy<Value = Vec<u8>> {
    let entry = (
        prop_oneof![
            Just("manifest.json".to_string()),
            Just("index.json".to_string()),
            Just("oci-layout".to_string()),
            Just("blobs/sha256/abc".to_string()),
            Just("../x".to_string()),
            Just("/etc/x".to_string()),
            "[a-z./]{1,20}".prop_map(String::from)
        ],
        0u8..4,
        "[a-z./]{0,20}",
        prop::collection::vec(any::<u8>(), 0..200),
    );
    (prop::collection::vec(entry, 0..8), any::<u16>()).prop_map(|(entries, cut)| {
        let mut out = Vec::new();
        {
            let mut b = tar::Builder::new(&mut out);
            for (name, kind, target, data) in entries {
                let mut h = tar::Header::new_gnu();
                let raw = name.as_bytes();
                h.as_old_mut().name[..raw.len().min(99)].copy_from_slice(&raw[..raw.len().min(99)]);
                h.set_mode(0o644);
                match kind {
                    0 => h.set_entry_type(tar::EntryType::Regular),
                    1 => h.set_entry_type(tar::EntryType::Directory),
                    2 => {
                        h.set_entry_type(tar::EntryType::Symlink);
                        let _ = h.set_link_name(&target);
                    }
                    _ => h.set_entry_type(tar::EntryType::Char),
                }
                let data = if kind == 0 { data } else { vec![] };
                h.set_size(data.len() as u64);
                h.set_cksum();
                let _ = b.append(&h, &data[..]);
            }
            let _ = b.finish();
        }
        if cut > 0 && (cut as usize) < out.len() {
            out.truncate(cut as usize);
        }
        out
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn image_references_parse_or_refuse(s in ".{0,80}") {
        if let Ok(r) = ImageRef::parse(&s) {
            prop_assert!(!r.repository.is_empty());
        }
    }

    #[test]
    fn durations_parse_or_refuse(s in "[0-9.]{0,25}(ms|s|m|h|x|)") {
        let _ = stevedore::validate::duration(&s);
        // The flags' parsers: an answer or a refusal inside the bounds, never a panic.
        if let Ok(d) = stevedore::ecs::timeout_flag(&s) {
            prop_assert!(d >= stevedore::ecs::MIN_TIMEOUT && d <= stevedore::ecs::MAX_TIMEOUT);
        }
        if let Ok(d) = stevedore::ecs::poll_flag(&s) {
            prop_assert!(d >= stevedore::ecs::MIN_POLL && d <= stevedore::ecs::MAX_POLL);
        }
        if let Ok(secs) = stevedore::cli::session_duration(&s) {
            prop_assert!((900..=43_200).contains(&secs));
        }
    }

    #[test]
    fn task_definitions_patch_or_refuse(td in any_json(), image in "[a-z0-9./:@-]{0,40}", name in "[a-z]{0,6}") {
        let changes = Changes {
            images: vec![(name.clone(), image.clone())],
            image: Some(image),
            env: vec![(name.clone(), "K".into(), "V".into())],
            secrets: vec![],
            docker_labels: vec![(name.clone(), "k".into(), "v".into())],
            cpu: None,
            memory: None,
            tags: vec![(name.clone(), "v".into())],
        };
        let base = registrable(&td);
        if let Ok(mut new) = apply(&base, &changes) {
            let _ = stevedore::ecs::taskdef::set_tags(&mut new, &changes.tags);
            let _ = diff(&base, &new);
        }
        // Whatever JSON it is given, set_tags answers and never panics.
        let mut any = td.clone();
        let _ = stevedore::ecs::taskdef::set_tags(&mut any, &changes.tags);
    }

    #[test]
    fn templates_render_or_refuse(text in "(\\{\\{[#/]?[a-z. ]{0,8}\\}\\}|[a-z{}\"]{0,5}){0,40}") {
        if stevedore::render::check_shape(&text).is_ok() {
            let _ = stevedore::render::render_str(&text, &json!({"a": "1", "env": {"X": "y"}}));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn archives_unpack_or_refuse_and_stay_inside(bytes in any_tar()) {
        let dir = tempfile::tempdir().unwrap();
        let dst = dir.path().join("x");
        std::fs::create_dir(&dst).unwrap();
        let limits = stevedore::image::archive::Limits { max_bytes: 4096, max_entries: 6 };
        let _ = stevedore::image::archive::unpack(&bytes[..], &dst, limits, std::path::Path::new("fuzz.tar"));
        // Nothing was written beside the destination.
        let beside: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        prop_assert_eq!(beside, vec![std::ffi::OsString::from("x")]);
    }

    #[test]
    fn image_archives_read_or_refuse(bytes in any_tar()) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("image.tar");
        std::fs::File::create(&path).unwrap().write_all(&bytes).unwrap();
        let _ = stevedore::image::source::read(&stevedore::image::source::Source::Archive(path));
    }

    #[test]
    fn oci_layouts_read_or_refuse(index in any_json(), manifest in any_json()) {
        let dir = tempfile::tempdir().unwrap();
        let blobs = dir.path().join("blobs/sha256");
        std::fs::create_dir_all(&blobs).unwrap();
        let m = manifest.to_string();
        let hex = stevedore::image::source::sha256_hex(m.as_bytes());
        std::fs::write(blobs.join(&hex), &m).unwrap();
        std::fs::write(dir.path().join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        // Half the time an index that points at the manifest, half the time an arbitrary one.
        let index = if m.len() % 2 == 0 {
            json!({"schemaVersion": 2, "manifests": [{"digest": format!("sha256:{hex}"), "size": m.len(), "mediaType": "application/vnd.oci.image.manifest.v1+json"}]})
        } else {
            index
        };
        std::fs::write(dir.path().join("index.json"), index.to_string()).unwrap();
        let _ = stevedore::image::source::load(&stevedore::image::source::Source::OciDir(dir.path().to_path_buf()));
    }
}

/// Text as a hostile task or registry may send it: any characters, control characters,
/// escapes, newlines and Unicode separators well represented.
fn any_relayed() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            any::<char>(),
            prop::sample::select(vec![
                '\u{1b}', '\r', '\n', '\u{0}', '\u{7}', '\u{85}', '\u{9b}', '\u{7f}', '\u{2028}',
                '\u{202e}', '\t', '\\', '[', ']',
            ]),
        ],
        0..64,
    )
    .prop_map(|cs| cs.into_iter().collect())
}

/// What no relayed text may carry to a terminal.
fn hostile(c: char) -> bool {
    (c.is_control() && c != '\t')
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn relayed_text_carries_no_terminal_command_and_keeps_every_line_prefixed(s in any_relayed()) {
        use stevedore::relay;
        let e = relay::escape(&s);
        prop_assert!(!e.chars().any(hostile), "{e:?}");
        if !s.chars().any(hostile) {
            prop_assert_eq!(e.as_ref(), s.as_str());
        }
        let lines = relay::lines("m| ", &s);
        for l in lines.split('\n') {
            prop_assert!(l.starts_with("m| "), "{l:?} of {lines:?}");
            prop_assert!(!l.chars().any(hostile), "{l:?}");
        }
        let md = relay::markdown(&s);
        prop_assert!(!md.chars().any(hostile) && !md.contains('<') && !md.contains("]("), "{md:?}");
    }

    #[test]
    fn a_signature_manifest_of_any_shape_is_read_or_refused(v in any_json(), raw in prop::collection::vec(any::<u8>(), 0..256)) {
        use stevedore::sign::simple_signing::{layers_of, MAX_SIGNATURE_LAYERS};
        for bytes in [v.to_string().into_bytes(), raw] {
            if let Ok(layers) = layers_of(&bytes) {
                prop_assert!(layers.len() <= MAX_SIGNATURE_LAYERS);
                for l in layers {
                    prop_assert!(!l.key.unwrap_or_default().chars().any(hostile));
                }
            }
        }
    }
}

#[test]
fn a_signature_manifest_of_thousands_of_layers_is_refused() {
    use stevedore::sign::simple_signing::layers_of;
    let layer = json!({"digest": "sha256:00", "size": 1, "annotations": {"dev.cosignproject.cosign/signature": "AA=="}});
    let many = json!({"layers": vec![layer; 5000]}).to_string();
    let e = layers_of(many.as_bytes()).unwrap_err();
    assert!(e.contains("5000 layers, more than the 64"), "{e}");
}
