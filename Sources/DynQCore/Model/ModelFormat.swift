/// Layout constants of the `.dynq` file (docs/model-format.md). Each op's parameter words are in its op file
/// (Ops/).
public enum ModelFormat {
    /// `\x89 D Y N Q \r \n \x1A` (PNG-style: catches 7-bit and line-ending mangling).
    public static let magic: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
        (0x89, 0x44, 0x59, 0x4E, 0x51, 0x0D, 0x0A, 0x1A)
    public static let version: UInt32 = 1
    public static let headerSize = 80
    /// Bytes covered by the CRC start here (everything after the CRC field).
    public static let checksumStart = 24
    /// Tensor and blob records.
    public static let recordSize = 44
    public static let maxTensorRank = 4
    public static let maxBlobRank = 6
    /// Blob data alignment (and the alignment the model bytes must have in memory).
    public static let blobAlignment = 16
    /// Op record header: u16 code, u16 parameter word count, u32 name offset, u32 name length.
    public static let opHeaderSize = 12
    /// Marks an absent optional blob (bias, mixed bias) in a parameter word.
    public static let none: Int32 = -1

    // Header field offsets.
    static let fVersion = 8, fHeaderSize = 12, fFileSize = 16, fCRC = 20, fFlags = 24
    static let fStringsOffset = 28, fStringsSize = 32
    static let fTensorsOffset = 36, fTensorCount = 40
    static let fBlobsOffset = 44, fBlobCount = 48
    static let fOpsOffset = 52, fOpsSize = 56, fOpCount = 60
    static let fMetaOffset = 64, fMetaSize = 68
    static let fDataOffset = 72, fDataSize = 76

    // Limits that keep every index and size comfortably inside Int32 (and a corrupt count from looping long).
    public static let maxElements = 1 << 28
    public static let maxListCount = 1 << 16
    public static let maxKernelCount = 516
    public static let maxWindow = 1 << 12
}
