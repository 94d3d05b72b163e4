//! The ZooKeeper side of the harness against Debian's real ZooKeeper, and
//! `zk/ensemble.sh`.

use std::net::{Ipv4Addr, TcpListener};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{ensure, Result};
use integration_tests::{free_port, repo_root, run_with_timeout, zk_cli, ZkEnsemble, ZooKeeper};

/// Whether `pid` is still a live process (a zombie counts as gone).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            !stat
                .rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
        .unwrap_or(false)
}

#[test]
fn standalone_serves_znodes_and_dies_with_its_handle() -> Result<()> {
    let zk = ZooKeeper::start_standalone()?;
    zk_cli(&zk.connect_string(), &["create", "/t", "hello"])?;
    assert_eq!(zk_cli(&zk.connect_string(), &["get", "/t"])?, "hello\n");

    let pid = zk.pid(0).expect("running");
    assert!(alive(pid));
    drop(zk);
    assert!(!alive(pid), "ZooKeeper pid {pid} survived its handle");
    Ok(())
}

#[test]
fn ensemble_survives_losing_its_leader() -> Result<()> {
    let mut zk = ZkEnsemble::start(3)?;
    zk_cli(zk.address(0), &["create", "/t", "hello"])?;
    for i in 0..3 {
        assert_eq!(
            zk_cli(zk.address(i), &["get", "/t"])?,
            "hello\n",
            "node {i}"
        );
    }

    let leader = zk.leader()?;
    zk.kill(leader)?;
    zk.wait_for_quorum()?;
    let new_leader = zk.leader()?;
    assert_ne!(new_leader, leader);
    zk_cli(
        &zk.connect_string(),
        &["create", "/after-kill", "still-serving"],
    )?;
    assert_eq!(zk_cli(zk.address(new_leader), &["get", "/t"])?, "hello\n");

    zk.restart(leader)?;
    assert_eq!(
        zk_cli(zk.address(leader), &["get", "/after-kill"])?,
        "still-serving\n",
        "the restarted node caught up"
    );

    let pids: Vec<u32> = (0..3).filter_map(|i| zk.pid(i)).collect();
    assert_eq!(pids.len(), 3);
    drop(zk);
    for pid in pids {
        assert!(!alive(pid), "ZooKeeper pid {pid} survived its handle");
    }
    Ok(())
}

/// A base port for `zk/ensemble.sh` such that all nine ports it derives
/// (client base+0..2, quorum base+707.., election base+1707..) are free.
fn free_base_port() -> Result<u16> {
    let is_free = |port: u16| TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok();
    for _ in 0..100 {
        let base = free_port()?;
        let derived = [0, 1, 2, 707, 708, 709, 1707, 1708, 1709];
        if derived
            .iter()
            .all(|&offset| base.checked_add(offset).is_some_and(is_free))
        {
            return Ok(base);
        }
    }
    anyhow::bail!("found no base port with all derived ports free")
}

/// Runs `zk/ensemble.sh <command> --dir <dir> --base-port <base>`.
fn ensemble_sh(command: &str, dir: &Path, base: u16) -> Result<(bool, String)> {
    let mut cmd = Command::new(repo_root().join("zk/ensemble.sh"));
    cmd.arg(command)
        .arg("--dir")
        .arg(dir)
        .args(["--base-port", &base.to_string()]);
    let output = run_with_timeout(cmd, Duration::from_secs(120))?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    Ok((output.status.success(), text))
}

/// Stops the script's ensemble even if the test fails half-way: the script
/// starts its nodes in their own sessions, out of reach of the harness.
struct StopOnDrop<'a>(&'a Path, u16);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        if let Err(e) = ensemble_sh("stop", self.0, self.1) {
            eprintln!("zk/ensemble.sh stop failed: {e:#}");
        }
    }
}

#[test]
fn ensemble_script_starts_reports_and_stops() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let base = free_base_port()?;
    let _stop = StopOnDrop(dir.path(), base);

    let (ok, out) = ensemble_sh("start", dir.path(), base)?;
    ensure!(ok, "start failed:\n{out}");
    let (ok, out) = ensemble_sh("start", dir.path(), base)?;
    ensure!(
        ok && out.matches("already running").count() == 3,
        "second start:\n{out}"
    );

    let (ok, status) = ensemble_sh("status", dir.path(), base)?;
    ensure!(ok, "status failed:\n{status}");
    assert_eq!(status.matches("mode leader").count(), 1, "{status}");
    assert_eq!(status.matches("mode follower").count(), 2, "{status}");

    let connect = format!("127.0.0.1:{},127.0.0.1:{}", base, base + 2);
    zk_cli(&connect, &["create", "/t", "hello"])?;
    assert_eq!(
        zk_cli(&format!("127.0.0.1:{}", base + 1), &["get", "/t"])?,
        "hello\n"
    );

    let pids: Vec<u32> = (1..=3)
        .map(|i| std::fs::read_to_string(dir.path().join(format!("node{i}/node.pid"))))
        .map(|pid| Ok(pid?.trim().parse()?))
        .collect::<Result<_>>()?;
    let (ok, out) = ensemble_sh("stop", dir.path(), base)?;
    ensure!(ok, "stop failed:\n{out}");
    for pid in pids {
        assert!(!alive(pid), "node pid {pid} survived stop");
    }
    let (ok, status) = ensemble_sh("status", dir.path(), base)?;
    ensure!(
        !ok && status.matches("not running").count() == 3,
        "{status}"
    );
    Ok(())
}
