/// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320, initial and final XOR 0xFFFFFFFF), the zlib / PNG CRC:
/// `crc32("123456789") == 0xCBF43926`. Nibble table (16 entries): small enough for flash, two lookups a byte.
public enum CRC32 {
    static let nibbleTable: [UInt32] = [
        0x0000_0000, 0x1DB7_1064, 0x3B6E_20C8, 0x26D9_30AC, 0x76DC_4190, 0x6B6B_51F4, 0x4DB2_6158, 0x5005_713C,
        0xEDB8_8320, 0xF00F_9344, 0xD6D6_A3E8, 0xCB61_B38C, 0x9B64_C2B0, 0x86D3_D2D4, 0xA00A_E278, 0xBDBD_F21C,
    ]

    /// Continue a CRC over `bytes` (start with `0`).
    public static func update(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var c = ~crc
        nibbleTable.withUnsafeBufferPointer { t in
            for b in bytes {
                c = (c >> 4) ^ t[Int((c ^ UInt32(b)) & 0xF)]
                c = (c >> 4) ^ t[Int((c ^ UInt32(b >> 4)) & 0xF)]
            }
        }
        return ~c
    }

    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 { update(0, bytes) }
}
