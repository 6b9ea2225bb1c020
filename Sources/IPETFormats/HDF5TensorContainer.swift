import CHDF5

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Our plain HDF5 tensor container (`Formats/hdf5.md` §2), for people whose tooling is HDF5: the same content as a
/// canonical safetensors file, readable with `h5py.File(path)["name"][()]`.
///
/// Layout: one dataset per tensor at the root, named by the full dotted tensor name, little-endian IEEE float32
/// (or float16 / bfloat16 for reduced-precision copies), C order, contiguous, no filters; the metadata (the same
/// key → string pairs as safetensors `__metadata__`) as scalar variable-length UTF-8 string attributes on the root,
/// plus the marker attribute `__ipet_layout__ = "ipet-tensors-1"`. Links and attributes are created with creation
/// order tracked and indexed, so the reader returns tensors and metadata in the order they were written; no object
/// modification times are stored, so equal content gives byte-identical files. File format bounds are HDF5 1.8
/// (any libhdf5 ≥ 1.8 or h5py reads it).
///
/// Reading accepts files written by other tools: the marker is optional, datasets in nested groups get their path
/// joined with `.` as name, and any float type libhdf5 can convert is read as Float32. The groups are walked with
/// `HDF5File.walk` (bounded depth, no cycles, linear), and the datasets' declared sizes are checked against
/// `DecodeBudget` before any data is read.
public struct HDF5TensorContainer: Sendable {
    public struct Entry: Sendable, Equatable {
        public let name: String
        public let shape: [Int]
        public let values: [Float]
        /// The type stored in the file (F32 by default; F16/BF16 for reduced copies; F64 from foreign writers).
        public let dtype: DType

        public init(name: String, shape: [Int], values: [Float], dtype: DType = .f32) {
            self.name = name
            self.shape = shape
            self.values = values
            self.dtype = dtype
        }
    }

    /// Name of the root attribute that marks our layout (never part of `metadata`).
    public static let layoutAttribute = "__ipet_layout__"
    public static let layoutVersion = "ipet-tensors-1"

    public var metadata: [(key: String, value: String)]
    public var tensors: [Entry]

    public init(metadata: [(key: String, value: String)] = [], tensors: [Entry] = []) {
        self.metadata = metadata
        self.tensors = tensors
    }

    public func metadataValue(_ key: String) -> String? {
        metadata.first(where: { $0.key == key })?.value
    }

    public func tensor(named name: String) -> Entry? {
        tensors.first { $0.name == name }
    }

    // MARK: reading

    /// Reads a container written by `write(to:)` or by other tools following the layout.
    public init(path: String) throws(HDF5Error) {
        try self.init(file: HDF5File(path: path))
    }

    public init(file: HDF5File) throws(HDF5Error) {
        if try TFCheckpoint.isKerasWeights(file) {
            throw HDF5Error(path: file.path, object: "/", problem: .invalidValue(
                "is a TensorFlow/Keras weights file (root attribute layer_names), not a tensor container: read it as a TF checkpoint"))
        }
        var metadata: [(key: String, value: String)] = []
        for key in try file.attributeNames(of: "/") where key != Self.layoutAttribute {
            guard let values = try file.strings(attribute: key, of: "/"), values.count == 1 else {
                throw HDF5Error(path: file.path, object: "@" + key, problem: .invalidValue(
                    "metadata attributes must be single strings"))
            }
            metadata.append((key, values[0]))
        }
        if let marker = try file.strings(attribute: Self.layoutAttribute, of: "/"), marker != [Self.layoutVersion] {
            throw HDF5Error(path: file.path, object: "@" + Self.layoutAttribute, problem: .invalidValue(
                "unknown container layout \(marker) (this reader knows \(Self.layoutVersion))"))
        }
        // Walk first (bounded, linear, cycle-safe), check what the datasets would decode to, then read.
        var datasets: [(name: String, object: HDF5Object)] = []
        var seen = Set<String>()
        for object in try file.walk() {
            guard object.kind == .dataset, let info = object.dataset else { continue }  // named datatypes carry no tensor
            guard case .float = info.elementType else {
                throw HDF5Error(path: file.path, object: object.path, problem: .unsupportedElementType(info.elementType.description))
            }
            let name = object.components.joined(separator: ".")
            guard seen.insert(name).inserted else {
                throw HDF5Error(path: file.path, object: object.path, problem: .duplicateName(
                    "\"\(name)\" is spelled by more than one dataset path"))
            }
            datasets.append((name, object))
        }
        try HDF5File.checkDecodeBudget(datasets.compactMap(\.object.dataset), fileBytes: file.fileSize, path: file.path)
        var tensors: [Entry] = []
        tensors.reserveCapacity(datasets.count)
        for (name, object) in datasets {
            let (info, values) = try file.floats(object)
            guard case let .float(dtype) = info.elementType else { continue }
            tensors.append(Entry(name: name, shape: info.shape, values: values, dtype: dtype))
        }
        self.metadata = metadata
        self.tensors = tensors
    }

    // MARK: writing

    /// Writes the container atomically (temporary file beside `path`, then rename). `dtype` overrides each
    /// entry's own storage type when given: F32, F16 or BF16 (F16/BF16 are rounded to nearest-even exactly as the
    /// safetensors writer does).
    public func write(to path: String, dtype: DType? = nil) throws(HDF5Error) {
        try validate(path: path, dtype: dtype)
        let temporary = AtomicFile.temporaryPath(beside: path)
        do {
            try HDF5Library.locked { () throws(HDF5Error) in try writeLocked(to: temporary, finalPath: path, dtype: dtype) }
        } catch {
            unlink(temporary)
            throw error
        }
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw HDF5Error(path: path, object: nil, problem: .io("cannot rename into place: \(reason)"))
        }
    }

    private func validate(path: String, dtype: DType?) throws(HDF5Error) {
        var names = Set<String>()
        for t in tensors {
            func bad(_ why: String) -> HDF5Error { HDF5Error(path: path, object: t.name, problem: .invalidName(why)) }
            guard !t.name.isEmpty, t.name != ".", !t.name.contains("/") else {
                throw bad("tensor names must be non-empty, not \".\", and contain no \"/\"")
            }
            guard !t.name.utf8.contains(0) else { throw bad("tensor names cannot contain NUL") }
            guard names.insert(t.name).inserted else {
                throw HDF5Error(path: path, object: t.name, problem: .duplicateName("the name is used twice"))
            }
            var count = 1
            for d in t.shape {
                let (p, o) = count.multipliedReportingOverflow(by: d)
                guard d >= 0, !o else {
                    throw HDF5Error(path: path, object: t.name, problem: .invalidShape("\(t.shape) overflows"))
                }
                count = p
            }
            guard count == t.values.count else {
                throw HDF5Error(path: path, object: t.name, problem: .invalidShape(
                    "shape \(t.shape) holds \(count) values but \(t.values.count) were given"))
            }
            let stored = dtype ?? t.dtype
            guard [.f32, .f16, .bf16].contains(stored) else {
                throw HDF5Error(path: path, object: t.name, problem: .unsupportedElementType(
                    "\(stored.rawValue) requested; the container stores F32, F16 or BF16"))
            }
        }
        var keys = Set<String>()
        for (key, value) in metadata {
            guard !key.isEmpty, key != Self.layoutAttribute, !key.utf8.contains(0), !value.utf8.contains(0) else {
                throw HDF5Error(path: path, object: "@" + key, problem: .invalidName(
                    "metadata keys must be non-empty, not \"\(Self.layoutAttribute)\", and keys/values free of NUL"))
            }
            guard keys.insert(key).inserted else {
                throw HDF5Error(path: path, object: "@" + key, problem: .duplicateName("metadata key used twice"))
            }
        }
    }

    private func writeLocked(to temporary: String, finalPath: String, dtype: DType?) throws(HDF5Error) {
        func failure(_ object: String?, _ operation: String) -> HDF5Error {
            HDF5Error(path: finalPath, object: object,
                      problem: .library(operation: operation, detail: HDF5Library.takeErrorMessage()))
        }
        let create = H5Pcreate(shim_H5P_FILE_CREATE())
        guard create >= 0 else { throw failure(nil, "create file properties") }
        defer { H5Pclose(create) }
        let order = UInt32(H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED)
        // No modification times in object headers: the same tensors always give the same bytes.
        guard H5Pset_link_creation_order(create, order) >= 0, H5Pset_attr_creation_order(create, order) >= 0,
              H5Pset_obj_track_times(create, false) >= 0
        else {
            throw failure(nil, "set the root group's creation properties")
        }
        let datasetCreate = H5Pcreate(shim_H5P_DATASET_CREATE())
        guard datasetCreate >= 0 else { throw failure(nil, "create dataset properties") }
        defer { H5Pclose(datasetCreate) }
        guard H5Pset_obj_track_times(datasetCreate, false) >= 0 else { throw failure(nil, "create dataset properties") }
        let access = H5Pcreate(shim_H5P_FILE_ACCESS())
        guard access >= 0 else { throw failure(nil, "create file access properties") }
        defer { H5Pclose(access) }
        guard H5Pset_libver_bounds(access, H5F_LIBVER_V18, H5F_LIBVER_V18) >= 0 else {
            throw failure(nil, "limit the file format to HDF5 1.8")
        }
        let file = H5Fcreate(temporary, shim_H5F_ACC_EXCL(), create, access)
        guard file >= 0 else { throw failure(nil, "create the file") }
        var closed = false
        defer { if !closed { H5Fclose(file) } }

        let stringType = H5Tcopy(shim_H5T_C_S1())
        guard stringType >= 0 else { throw failure(nil, "make a string type") }
        defer { H5Tclose(stringType) }
        guard H5Tset_size(stringType, shim_H5T_VARIABLE()) >= 0, H5Tset_cset(stringType, H5T_CSET_UTF8) >= 0 else {
            throw failure(nil, "make a UTF-8 string type")
        }
        let scalar = H5Screate(H5S_SCALAR)
        guard scalar >= 0 else { throw failure(nil, "make a scalar dataspace") }
        defer { H5Sclose(scalar) }
        for (key, value) in [(Self.layoutAttribute, Self.layoutVersion)] + metadata {
            let attribute = H5Acreate2(file, key, stringType, scalar, shim_H5P_DEFAULT(), shim_H5P_DEFAULT())
            guard attribute >= 0 else { throw failure("@" + key, "create the metadata attribute") }
            let status = value.withCString { text -> herr_t in
                var pointer: UnsafePointer<CChar>? = text
                return H5Awrite(attribute, stringType, &pointer)
            }
            H5Aclose(attribute)
            guard status >= 0 else { throw failure("@" + key, "write the metadata attribute") }
        }

        for t in tensors {
            let stored = dtype ?? t.dtype
            let fileType = try Self.fileType(stored, path: finalPath, name: t.name)
            defer { H5Tclose(fileType) }
            let space: hid_t
            if t.shape.isEmpty {
                space = H5Screate(H5S_SCALAR)
            } else {
                let dims = t.shape.map { hsize_t($0) }
                space = H5Screate_simple(Int32(dims.count), dims, nil)
            }
            guard space >= 0 else { throw failure(t.name, "make the dataspace") }
            defer { H5Sclose(space) }
            let dataset = H5Dcreate2(file, t.name, fileType, space, shim_H5P_DEFAULT(), datasetCreate, shim_H5P_DEFAULT())
            guard dataset >= 0 else { throw failure(t.name, "create the dataset") }
            defer { H5Dclose(dataset) }
            guard !t.values.isEmpty else { continue }
            let status: herr_t
            switch stored {
            case .f32:
                status = t.values.withUnsafeBytes {
                    H5Dwrite(dataset, shim_H5T_NATIVE_FLOAT(), shim_H5S_ALL(), shim_H5S_ALL(), shim_H5P_DEFAULT(), $0.baseAddress)
                }
            default:
                // Round in Swift (the project's exact RNE conversions), then store the 16-bit patterns unconverted.
                let bits = stored == .f16 ? t.values.map { HalfFloat.halfBits(from: $0).littleEndian }
                    : t.values.map { HalfFloat.bfloat16Bits(from: $0).littleEndian }
                status = bits.withUnsafeBytes {
                    H5Dwrite(dataset, fileType, shim_H5S_ALL(), shim_H5S_ALL(), shim_H5P_DEFAULT(), $0.baseAddress)
                }
            }
            guard status >= 0 else { throw failure(t.name, "write the data") }
        }
        guard H5Fclose(file) >= 0 else {
            closed = true
            throw failure(nil, "flush and close the file")
        }
        closed = true
    }

    /// Little-endian IEEE float32, or the 16-bit layouts h5py/numpy use for float16 and (by analogy) bfloat16.
    static func fileType(_ dtype: DType, path: String, name: String) throws(HDF5Error) -> hid_t {
        let type = H5Tcopy(shim_H5T_IEEE_F32LE())
        guard type >= 0 else {
            throw HDF5Error(path: path, object: name, problem: .library(operation: "copy the float type",
                                                                          detail: HDF5Library.takeErrorMessage()))
        }
        let ok: Bool
        switch dtype {
        case .f16:  // sign bit 15, exponent bits 10–14 (bias 15), mantissa bits 0–9
            ok = H5Tset_fields(type, 15, 10, 5, 0, 10) >= 0 && H5Tset_size(type, 2) >= 0 && H5Tset_ebias(type, 15) >= 0
        case .bf16:  // sign bit 15, exponent bits 7–14 (bias 127), mantissa bits 0–6
            ok = H5Tset_fields(type, 15, 7, 8, 0, 7) >= 0 && H5Tset_size(type, 2) >= 0 && H5Tset_ebias(type, 127) >= 0
        default:
            ok = true
        }
        guard ok else {
            H5Tclose(type)
            throw HDF5Error(path: path, object: name, problem: .library(operation: "make a \(dtype.rawValue) type",
                                                                          detail: HDF5Library.takeErrorMessage()))
        }
        return type
    }
}
