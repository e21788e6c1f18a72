import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Random bytes for identifiers, drawn from the kernel's generator 4 KB at a time.
///
/// A contact create takes about ten ULIDs (record, history rows, audit entry, event), and `SystemRandomNumberGenerator`
/// makes one getrandom call per 8 bytes: twenty system calls per create, 1% of its CPU and all of it inside the write lock.
/// The bytes are the same kernel CSPRNG output, only fetched in bulk; each is handed out once.
enum RandomPool {
    private static let size = 4096
    private static let state = Mutex(Buffer())

    private struct Buffer: ~Copyable {
        var bytes: [UInt8]
        var used: Int
        init() {
            bytes = [UInt8](repeating: 0, count: RandomPool.size)
            used = RandomPool.size
        }
    }

    /// Writes `count` random bytes into `out` from `start` (at most 4 KB).
    static func fill(_ out: inout [UInt8], from start: Int, count: Int) {
        state.withLock { buffer in
            if buffer.used + count > size {
                refill(&buffer.bytes)
                buffer.used = 0
            }
            for i in 0..<count { out[start + i] = buffer.bytes[buffer.used + i] }
            buffer.used += count
        }
    }

    private static func refill(_ bytes: inout [UInt8]) {
        #if canImport(Glibc)
        if let urandom = Urandom.shared.fd {
            let complete = bytes.withUnsafeMutableBytes { raw -> Bool in
                var filled = 0
                while filled < raw.count {
                    let n = read(urandom, raw.baseAddress.map { $0 + filled }, raw.count - filled)
                    if n > 0 {
                        filled += n
                    } else if n < 0 && errno == EINTR {
                        continue
                    } else {
                        return false
                    }
                }
                return true
            }
            if complete { return }
        }
        #endif
        var rng = SystemRandomNumberGenerator()
        bytes.withUnsafeMutableBytes { raw in
            for offset in stride(from: 0, to: raw.count, by: 8) {
                withUnsafeBytes(of: rng.next()) { word in
                    for i in 0..<min(8, raw.count - offset) { raw[offset + i] = word[i] }
                }
            }
        }
    }

    #if canImport(Glibc)
    /// The descriptor of /dev/urandom, opened once (Glibc's Swift module does not export getrandom).
    private final class Urandom: Sendable {
        static let shared = Urandom()
        let fd: Int32?
        init() {
            let fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)
            self.fd = fd >= 0 ? fd : nil
        }
    }
    #endif
}
