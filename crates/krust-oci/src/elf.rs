//! Just enough ELF reading to refuse a dynamically linked busybox.
//!
//! The image holds busybox and nothing else: no libc, no dynamic loader. A dynamically
//! linked busybox (Debian's `busybox` package rather than `busybox-static`) would build
//! a fine-looking image whose every container dies with "no such file or directory".
//! Catching that at build time saves a confusing debugging session.

/// `PT_INTERP`: the program header naming the dynamic loader.
const PT_INTERP: u32 = 3;

/// Checks that `bytes` is an ELF executable without a program interpreter.
/// Returns the reason it is not, if it is not.
pub(crate) fn check_static(bytes: &[u8]) -> Result<(), &'static str> {
    if bytes.len() < 0x34 || &bytes[..4] != b"\x7fELF" {
        return Err("not an ELF executable");
    }
    let is64 = match bytes[4] {
        1 => false,
        2 => true,
        _ => return Err("unknown ELF class"),
    };
    let le = match bytes[5] {
        1 => true,
        2 => false,
        _ => return Err("unknown ELF byte order"),
    };
    let u16_at = |off: usize| -> Option<u64> {
        let b: [u8; 2] = bytes.get(off..off + 2)?.try_into().ok()?;
        Some(u64::from(if le {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        }))
    };
    let u32_at = |off: usize| -> Option<u64> {
        let b: [u8; 4] = bytes.get(off..off + 4)?.try_into().ok()?;
        Some(u64::from(if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }))
    };
    let u64_at = |off: usize| -> Option<u64> {
        let b: [u8; 8] = bytes.get(off..off + 8)?.try_into().ok()?;
        Some(if le {
            u64::from_le_bytes(b)
        } else {
            u64::from_be_bytes(b)
        })
    };
    let (phoff, phentsize, phnum) = if is64 {
        (u64_at(0x20), u16_at(0x36), u16_at(0x38))
    } else {
        (u32_at(0x1c), u16_at(0x2a), u16_at(0x2c))
    };
    let (Some(phoff), Some(phentsize), Some(phnum)) = (phoff, phentsize, phnum) else {
        return Err("truncated ELF header");
    };
    for i in 0..phnum {
        let off = phoff
            .checked_add(i.checked_mul(phentsize).ok_or("bad ELF program header table")?)
            .and_then(|o| usize::try_from(o).ok())
            .ok_or("bad ELF program header table")?;
        let p_type = u32_at(off).ok_or("truncated ELF program header table")?;
        if p_type == u64::from(PT_INTERP) {
            return Err("dynamically linked (has a program interpreter)");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_non_elf() {
        assert!(check_static(b"#!/bin/sh\necho hi\n").is_err());
        assert!(check_static(b"").is_err());
    }

    #[test]
    fn rejects_truncated_program_headers() {
        // An ELF64 header claiming one program header far past the end.
        let mut h = vec![0u8; 64];
        h[..4].copy_from_slice(b"\x7fELF");
        h[4] = 2;
        h[5] = 1;
        h[0x20..0x28].copy_from_slice(&4096u64.to_le_bytes());
        h[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
        h[0x38..0x3a].copy_from_slice(&1u16.to_le_bytes());
        assert!(check_static(&h).is_err());
    }

    #[test]
    fn host_binaries() {
        // Debian's busybox-static has no interpreter; /bin/ls from coreutils does.
        if let Ok(b) = std::fs::read("/bin/busybox") {
            // Either answer is fine here (the dynamic build may be installed); it
            // must not panic.
            let _ = check_static(&b);
        }
        let ls = std::path::Path::new("/bin/ls");
        let is_link = ls.symlink_metadata().map(|m| m.is_symlink()).unwrap_or(true);
        if let (false, Ok(b)) = (is_link, std::fs::read(ls)) {
            assert!(check_static(&b).is_err(), "/bin/ls should be dynamic");
        }
    }
}
