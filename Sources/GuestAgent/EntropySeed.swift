import DaxRigProtocol
import Glibc

/// The host's per-boot random bytes (sent with the plan, `HostMessage.plan`), credited
/// to the kernel's CRNG before anything in the guest reads randomness. Without them
/// PID 1 waits for the virtio-rng or the kernel's jitter gathering; in CI that wait
/// never ended once, on a vCPU whose timer interrupts had stopped (TCG), and cost 900 s.
enum EntropySeed {
    /// <linux/random.h>: RNDADDENTROPY = _IOW('R', 0x03, int[2]).
    private static let addEntropy: UInt = 0x4008_5203

    /// What happened, for the agent's "random" step. Never throws: without a seed the
    /// agent falls back to waiting, as it did before seeds.
    static func credit(_ seed: [UInt8]) -> String {
        guard !seed.isEmpty else { return "no seed from the host" }
        guard seed.count <= 4096, seed.count % 4 == 0 else { return "the host's seed (\(seed.count) bytes) is not whole 32-bit words" }
        let fd = open("/dev/urandom", O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return "cannot open /dev/urandom: \(errnoText())" }
        defer { close(fd) }
        // struct rand_pool_info { int entropy_count (bits); int buf_size (bytes); __u32 buf[]; }
        var info = [UInt32](repeating: 0, count: 2 + seed.count / 4)
        info[0] = UInt32(seed.count * 8)
        info[1] = UInt32(seed.count)
        info.withUnsafeMutableBytes { raw in
            raw.baseAddress!.advanced(by: 8).copyMemory(from: seed, byteCount: seed.count)
        }
        let status = info.withUnsafeMutableBytes { ioctl(fd, addEntropy, $0.baseAddress!) }
        return status == 0 ? "credited \(seed.count * 8) bits from the host"
            : "RNDADDENTROPY failed: \(errnoText())"
    }
}
