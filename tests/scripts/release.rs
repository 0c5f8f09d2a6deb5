//! The release as a user meets it: the version the binary says and sends, the changelog's
//! section for it, the package `scripts/package` builds (checked here, and linted as SAM
//! deploys it), the GitHub workflows against their schema, and every command the docs show
//! (`scripts/check-commands`).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use super::shared::Receiver;
use super::{ROOT, SECRET, cargo_lock, script, text};

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn binary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sync-notifier"));
    for variable in sync_notifier::config::lookalike::known_variables() {
        command.env_remove(variable);
    }
    command
}

#[test]
fn version_prints_the_cargo_version() {
    let output = binary().arg("--version").output().unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), format!("sync-notifier {VERSION}\n"));
}

#[test]
fn the_changelog_has_a_section_for_the_cargo_version() {
    let changelog = std::fs::read_to_string(Path::new(ROOT).join("CHANGELOG.md")).unwrap();
    let heading = format!("## [{VERSION}]");
    assert!(
        changelog.lines().any(|line| line.starts_with(&heading)),
        "CHANGELOG.md has no '{heading}' section"
    );
    assert!(
        changelog.contains("keepachangelog.com"),
        "CHANGELOG.md says which form it keeps"
    );
}

#[tokio::test]
async fn webhooks_name_the_release_in_their_user_agent() {
    let receiver = Receiver::start().await.unwrap();
    let mut command = binary();
    command
        .arg("send-test")
        .env("WEBHOOK_URL", receiver.url())
        .env("WEBHOOK_SECRET", SECRET);
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    let received = receiver.received();
    assert_eq!(received.len(), 1);
    assert_eq!(
        received[0].header("user-agent"),
        Some(format!("sync-notifier/{VERSION}").as_str())
    );
}

/// What `python3`'s zipfile (the same reader SAM's upload and Lambda's unzip agree with) says
/// of the zip: its names, the bootstrap's Unix mode and size, and its first 20 bytes.
fn zip_contents(zip: &Path) -> Value {
    let program = "import json, sys, zipfile\n\
                   z = zipfile.ZipFile(sys.argv[1])\n\
                   i = z.getinfo('bootstrap')\n\
                   print(json.dumps({'names': z.namelist(), 'mode': i.external_attr >> 16,\n\
                   'size': i.file_size, 'head': list(z.read('bootstrap')[:20])}))";
    let output = Command::new("python3")
        .args(["-c", program])
        .arg(zip)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// From the checkout, `scripts/package` makes a folder SAM deploys with no Rust toolchain: an
/// aarch64 `bootstrap` in the zip, the template pointing at it with no build metadata, and
/// the member templates as they are; cfn-lint and `sam validate --lint` pass on it.
///
/// The first run builds every crate for arm64 with LTO (minutes); later runs take seconds.
#[test]
fn the_package_deploys_without_a_rust_toolchain() {
    let dist = tempfile::tempdir().unwrap();
    let output = {
        let _cargo = cargo_lock();
        script("package").env("DIST", dist.path()).output().unwrap()
    };
    let stdout = text(&output.stdout);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        text(&output.stderr)
    );

    let zip_name = format!("sync-notifier-{VERSION}-arm64.zip");
    let members = [
        "member-forwarder.yaml",
        "member-role.yaml",
        "stacksets.yaml",
    ];
    let files: BTreeSet<String> = std::fs::read_dir(dist.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    let mut expected: BTreeSet<String> = ["template.yaml", "samconfig.toml", "SHA256SUMS"]
        .into_iter()
        .chain(members)
        .map(str::to_owned)
        .collect();
    expected.insert(zip_name.clone());
    assert_eq!(files, expected);

    // The zip: one executable `bootstrap`, a 64-bit little-endian ELF for aarch64 (e_machine
    // 183), as the provided.al2023 arm64 runtime runs it.
    let zip = zip_contents(&dist.path().join(&zip_name));
    assert_eq!(zip["names"], serde_json::json!(["bootstrap"]), "{zip}");
    assert_ne!(
        zip["mode"].as_u64().unwrap() & 0o111,
        0,
        "executable: {zip}"
    );
    let head: Vec<u8> = zip["head"]
        .as_array()
        .unwrap()
        .iter()
        .map(|byte| byte.as_u64().unwrap() as u8)
        .collect();
    assert_eq!(&head[..4], b"\x7fELF", "{zip}");
    assert_eq!((head[4], head[5]), (2, 1), "64-bit, little-endian: {zip}");
    assert_eq!(
        u16::from_le_bytes([head[18], head[19]]),
        183,
        "aarch64: {zip}"
    );
    println!("bootstrap: {} bytes", zip["size"]);

    // The template: the function's code is the zip beside it, and SAM has nothing to build.
    let template = std::fs::read_to_string(dist.path().join("template.yaml")).unwrap();
    assert!(
        template.contains(&format!("\n      CodeUri: {zip_name}\n")),
        "{template}"
    );
    assert!(!template.contains("CodeUri: ."), "{template}");
    assert!(!template.contains("BuildMethod"), "{template}");
    assert!(!template.contains("BuildProperties"), "{template}");
    let source = std::fs::read_to_string(Path::new(ROOT).join("template.yaml")).unwrap();
    assert_eq!(
        template.matches("\n  ").count() + 4,
        source.matches("\n  ").count(),
        "only the function's four lines of build metadata are gone"
    );
    for member in members {
        assert_eq!(
            std::fs::read(dist.path().join(member)).unwrap(),
            std::fs::read(Path::new(ROOT).join("templates").join(member)).unwrap(),
            "{member}"
        );
    }
    let sums = std::fs::read_to_string(dist.path().join("SHA256SUMS")).unwrap();
    for file in files.iter().filter(|file| *file != "SHA256SUMS") {
        assert!(sums.contains(&format!("  {file}\n")), "{file}: {sums}");
    }

    // As deployed: cfn-lint and `sam validate --lint` on the packaged template.
    let lint = script("lint-template")
        .env("TEMPLATE", dist.path().join("template.yaml"))
        .output()
        .unwrap();
    let said = text(&lint.stdout);
    assert!(lint.status.success(), "{said}\n{}", text(&lint.stderr));
    assert!(
        said.contains("template.yaml is a valid SAM Template"),
        "{said}"
    );
    assert!(said.contains("lint-template: OK"), "{said}");
}

#[test]
fn the_workflows_match_the_github_workflow_schema() {
    let output = script("check-workflows").output().unwrap();
    assert!(
        output.status.success(),
        "{}\n{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    assert!(
        text(&output.stdout).contains("check-workflows: 2 workflows valid"),
        "{}",
        text(&output.stdout)
    );
}

#[test]
fn check_workflows_names_what_the_schema_refuses() {
    let directory = tempfile::tempdir().unwrap();
    let workflow = directory.path().join("broken.yml");
    std::fs::write(
        &workflow,
        "on: push\njobs:\n  build:\n    steps:\n      - run: echo\n",
    )
    .unwrap();
    let output = script("check-workflows").arg(&workflow).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let said = format!("{}{}", text(&output.stdout), text(&output.stderr));
    assert!(said.contains("'runs-on' is a required property"), "{said}");
}

fn check_commands() -> Command {
    let mut command = script("check-commands");
    let bin = Path::new(env!("CARGO_BIN_EXE_sync-notifier"));
    command.env("SYNC_NOTIFIER_BIN_DIR", bin.parent().unwrap());
    command
}

/// Every command of README.md, CONTRIBUTING.md and docs/ runs as shown, or, when it needs
/// AWS, takes only options its tool accepts (the policy is in scripts/check-commands).
#[test]
fn every_documented_command_runs_or_is_checked() {
    let output = {
        let _cargo = cargo_lock();
        check_commands().output().unwrap()
    };
    let stdout = text(&output.stdout);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        text(&output.stderr)
    );
    assert!(stdout.contains("every one as the docs say"), "{stdout}");
}

#[test]
fn check_commands_names_each_command_that_would_fail() {
    let directory = tempfile::tempdir().unwrap();
    let page = directory.path().join("page.md");
    std::fs::write(
        &page,
        [
            "```sh",
            "aws lambda invoke --function-name f --payload '{\"resources\": []}' out.json",
            "aws dynamodb get-item --tabel-name t --key '{}'",
            "aws dynamodb list-tablez",
            "sam deploy --guidedd",
            "make everything",
            "```",
            "",
            "```text",
            "$ sync-notifier replay events/scenarios/none-such.json",
            "error: …",
            "```",
            "",
            "And inline: `aws lambda invoke --region us-east-1 --function-name f --cli-binary-format raw-in-base64-out --payload '{\"sendTest\": true}' out.json`.",
        ]
        .join("\n"),
    )
    .unwrap();
    let output = check_commands().arg(&page).output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stdout));
    let page = page.display();
    let problems: Vec<String> = text(&output.stderr)
        .lines()
        .map(|line| line.replace(&page.to_string(), "page.md"))
        .collect();
    for expected in [
        "page.md:2: aws lambda invoke --function-name f --payload '{\"resources\": []}' out.json: a --payload needs --cli-binary-format raw-in-base64-out (AWS CLI v2 reads it as base64 otherwise)",
        "page.md:2: aws lambda invoke --function-name f --payload '{\"resources\": []}' out.json: an invoke with --payload needs --region (the function's Region)",
        "page.md:3: aws dynamodb get-item --tabel-name t --key '{}': 'aws dynamodb get-item' takes no option --tabel-name",
        "page.md:3: aws dynamodb get-item --tabel-name t --key '{}': 'aws dynamodb get-item' needs --table-name",
        "page.md:4: aws dynamodb list-tablez: 'aws dynamodb' has no command 'list-tablez'",
        "page.md:5: sam deploy --guidedd: 'sam deploy' takes no option --guidedd",
        "page.md:6: make everything: no rule of scripts/check-commands says whether to run, check or skip it",
        "page.md:10: sync-notifier replay events/scenarios/none-such.json: exit status 1, the docs say 0",
        "page.md:14: aws lambda invoke --region us-east-1 --function-name f --cli-binary-format raw-in-base6...: is not the stack's SendTestCommand output",
    ] {
        assert!(
            problems
                .iter()
                .any(|problem| problem.starts_with(&format!("check-commands: {expected}"))),
            "missing: {expected}\n{problems:#?}"
        );
    }
    assert!(
        problems
            .last()
            .unwrap()
            .starts_with("check-commands: 9 problems in 7 commands"),
        "{problems:#?}"
    );
}

/// Each template parameter's `AllowedPattern`, and whether it is hidden (`NoEcho`).
fn template_parameters() -> Vec<(String, bool, Option<String>)> {
    let template = std::fs::read_to_string(Path::new(ROOT).join("template.yaml")).unwrap();
    let section: Vec<&str> = template
        .lines()
        .skip_while(|line| *line != "Parameters:")
        .skip(1)
        .take_while(|line| line.is_empty() || line.starts_with(' ') || line.starts_with('#'))
        .collect();
    let mut parameters: Vec<(String, bool, Option<String>)> = Vec::new();
    for line in section {
        let body = line.trim_start();
        if line.len() - body.len() == 2 && body.ends_with(':') && !body.starts_with('#') {
            parameters.push((body.trim_end_matches(':').to_owned(), false, None));
        } else if let Some(parameter) = parameters.last_mut() {
            if body == "NoEcho: true" {
                parameter.1 = true;
            } else if let Some(quoted) = body.strip_prefix("AllowedPattern: '") {
                parameter.2 = Some(quoted.trim_end_matches('\'').replace("''", "'"));
            }
        }
    }
    parameters
}

/// Whether each (pattern, value) matches, as CloudFormation matches an `AllowedPattern`: the
/// whole value (these patterns use no construct on which Java's and Python's regexes differ).
fn matches(cases: &[(String, &str)]) -> Vec<bool> {
    let program = "import json, re, sys\n\
                   print(json.dumps([re.fullmatch(p, v) is not None for p, v in json.load(sys.stdin)]))";
    let mut child = Command::new("python3")
        .args(["-c", program])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    serde_json::to_writer(child.stdin.take().unwrap(), cases).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    serde_json::from_slice(&output.stdout).unwrap()
}

/// `-` means "unset" for the hidden parameters only (`sam deploy --guided` asks again for an
/// empty hidden value); every other parameter that may be left empty when unused refuses `-`.
#[test]
fn the_dash_is_for_hidden_parameters_only() {
    let parameters = template_parameters();
    let template = std::fs::read_to_string(Path::new(ROOT).join("template.yaml")).unwrap();
    let hidden: Vec<&String> = parameters
        .iter()
        .filter(|(_, hidden, _)| *hidden)
        .map(|(name, _, _)| name)
        .collect();
    assert!(hidden.len() >= 9, "{hidden:?}");
    let mut cases = Vec::new();
    let mut names = Vec::new();
    for (name, is_hidden, pattern) in &parameters {
        let Some(pattern) = pattern else { continue };
        cases.push((pattern.clone(), ""));
        cases.push((pattern.clone(), "-"));
        names.push((name.clone(), *is_hidden));
        if *is_hidden {
            assert!(
                template.contains(&format!("!Equals [!Ref {name}, \"-\"]")),
                "{name}: no condition turns - into unset"
            );
        }
    }
    let answers = matches(&cases);
    let mut optional = 0;
    for ((name, is_hidden), answer) in names.iter().zip(answers.chunks(2)) {
        let (empty, dash) = (answer[0], answer[1]);
        if !empty {
            // Required whenever present (MemberRoleName, say): never "unused".
            assert!(!is_hidden, "{name}: hidden, yet empty is refused");
            continue;
        }
        optional += 1;
        assert_eq!(
            dash, *is_hidden,
            "{name}: - accepted is {dash}, hidden is {is_hidden}"
        );
    }
    assert!(optional >= 15, "{optional} parameters may be left empty");
    // EventBusName still takes every real bus, and empty for none.
    let bus = parameters
        .iter()
        .find(|(name, _, _)| name == "EventBusName")
        .and_then(|(_, _, pattern)| pattern.clone())
        .unwrap();
    let values = [
        "",
        "default",
        "ops-bus",
        "-ops",
        "arn:aws:events:eu-west-1:123456789012:event-bus/hub",
    ];
    let cases: Vec<(String, &str)> = values.iter().map(|value| (bus.clone(), *value)).collect();
    assert_eq!(matches(&cases), vec![true; values.len()], "{values:?}");
}

#[test]
fn the_readme_stays_short_and_opens_with_the_two_commands() {
    let readme = std::fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap();
    let lines = readme.lines().count();
    assert!(lines <= 200, "README.md has {lines} lines, more than 200");
    let first_block: Vec<&str> = readme
        .split("```sh\n")
        .nth(1)
        .unwrap()
        .split("```")
        .next()
        .unwrap()
        .lines()
        .map(|line| line.split('#').next().unwrap().trim())
        .collect();
    assert_eq!(
        first_block,
        [
            "cargo run -q -- replay events/scenarios/demo.json",
            "scripts/test"
        ]
    );
}
