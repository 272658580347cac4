//! `keygen --out DIR`: a new P-256 key pair for a v3 partner; needs no config (keys are made
//! before the partner is configured).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

use crate::auth::generate_v3_key_pair;

#[derive(clap::Args)]
pub(super) struct Args {
    /// The folder (made if need be); existing key files are never overwritten.
    #[arg(long)]
    out: PathBuf,
}

/// Writes private.pem (readable by its owner only) and public.pem into the folder.
pub(super) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let out = &args.out;
    std::fs::create_dir_all(out).with_context(|| format!("cannot make the folder {}", out.display()))?;
    let (private, public) = generate_v3_key_pair()?;
    // A pair half-written (a full disk, a public.pem already there) is removed, so that the
    // next run is not refused by it: a private key without its public one is no use.
    let mut written = Vec::new();
    let wrote = (|| {
        for (name, pem, mode) in [("private.pem", &private, 0o600), ("public.pem", &public, 0o644)] {
            let path = out.join(name);
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
            #[cfg(not(unix))]
            let _ = mode;
            let mut file = options
                .open(&path)
                .with_context(|| format!("cannot write {} (an existing key is never overwritten)", path.display()))?;
            written.push(path.clone());
            // On disk before it is said written.
            file.write_all(pem.as_bytes())
                .and_then(|()| file.sync_all())
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        anyhow::Ok(())
    })();
    if let Err(e) = wrote {
        for path in &written {
            let _ = std::fs::remove_file(path);
        }
        return Err(e);
    }
    for path in &written {
        println!("wrote {}", path.display());
    }
    crate::files::sync_folder(out).with_context(|| format!("cannot sync the folder {}", out.display()))?;
    println!(
        "give private.pem to the partner (it signs their tokens); put public.pem in config.toml as \
         v3_public_key_file, with a v3_issuer"
    );
    Ok(ExitCode::SUCCESS)
}
