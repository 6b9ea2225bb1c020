import CHDF5

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The kind of object a path names inside an HDF5 file.
public enum HDF5ObjectKind: String, Sendable {
    case group, dataset, namedDatatype = "named datatype", other
}

/// Element type of a dataset, as far as weight loading cares.
public enum HDF5ElementType: Equatable, Sendable, CustomStringConvertible {
    /// IEEE-like float; `dtype` is F16, BF16, F32 or F64.
    case float(DType)
    case integer(bits: Int, signed: Bool)
    case other(String)

    public var description: String {
        switch self {
        case let .float(d): return "float (\(d.rawValue))"
        case let .integer(bits, signed): return "integer (\(bits)-bit \(signed ? "signed" : "unsigned"))"
        case let .other(kind): return kind
        }
    }
}

/// Shape, type and storage of one dataset, validated before any data is read.
public struct HDF5DatasetInfo: Equatable, Sendable {
    public let path: String
    public let shape: [Int]
    public let elementType: HDF5ElementType
    public let elementCount: Int
    /// Bytes the dataset occupies in the file (compressed size for filtered chunks).
    public let storedBytes: UInt64
    public let isChunked: Bool
    public let filterCount: Int
}

/// A read-only HDF5 file (libhdf5, serial build).
///
/// Every call takes the process-wide HDF5 lock. Paths are absolute HDF5 paths (`/group/dataset`). Nothing is read
/// into memory from a declared size until the size has been checked: a dataset's float32 size must stay within
/// `maxTensorBytes`, uncompressed data must actually be stored in the file, compressed data cannot claim more than
/// `maxCompressionRatio` times its stored bytes, and chunks must be reasonably sized (libhdf5 allocates whole chunks).
/// Objects that would make libhdf5 read other files (external links, external raw storage, virtual datasets) are
/// refused. Walks and path lookups are linear and bounded (`walk`, `Formats/hdf5.md` §3): one pass per group, no
/// group twice (cycles), at most `maxDepth` levels.
public final class HDF5File: @unchecked Sendable {
    public let path: String
    public let fileSize: UInt64
    private let fileID: hid_t
    private let linkAccess: hid_t
    /// The same file mapped read-only, for the bounds-checked global-heap reader (mapped when libhdf5 opens it,
    /// so a later replacement of `path` does not change what either sees).
    let mapped: MappedFile

    /// Largest tensor accepted, in float32 bytes (4 GiB; wav2vec2-large's biggest tensor is 32 MiB).
    public static let maxTensorBytes: UInt64 = 1 << 32
    /// deflate cannot exceed about 1032:1; anything claiming more is a decompression bomb or a lie.
    public static let maxCompressionRatio: UInt64 = 1100
    /// Largest chunk accepted when the dataset itself is smaller (libhdf5 allocates a whole chunk to read it).
    public static let maxChunkBytes: UInt64 = 64 << 20
    /// Most elements in one attribute (name lists of real checkpoints hold a few thousand), and most links in one group.
    public static let maxAttributeElements = 1 << 24
    /// Deepest group nesting walked or looked up (Keras files nest about 8 deep; h5py's own limit is far higher).
    public static let maxDepth = 64

    public init(path: String) throws(HDF5Error) {
        self.path = path
        do {
            self.mapped = try MappedFile(path: path)
        } catch {
            throw HDF5Error(path: path, object: nil, problem: .io(error.reason))
        }
        self.fileSize = UInt64(mapped.count)
        let bytes = mapped.bytes
        let opened: (hid_t, hid_t) = try HDF5Library.locked { () throws(HDF5Error) -> (hid_t, hid_t) in
            let signature = H5Fis_hdf5(path)
            guard signature > 0 else {
                HDF5Library.clearErrors()
                throw HDF5Error(path: path, object: nil, problem: .notHDF5)
            }
            let access = H5Pcreate(shim_H5P_FILE_ACCESS())
            defer { if access >= 0 { H5Pclose(access) } }
            // Closing the file closes every object still open in it.
            _ = H5Pset_fclose_degree(access, H5F_CLOSE_STRONG)
            let file = H5Fopen(path, shim_H5F_ACC_RDONLY(), access)
            guard file >= 0 else {
                throw HDF5Error(path: path, object: nil,
                                problem: .library(operation: "open the file", detail: HDF5Library.takeErrorMessage()))
            }
            // Structures libhdf5 trusts too much are checked before it walks any group.
            var userBlock: hsize_t = 0
            let create = H5Fget_create_plist(file)
            if create >= 0 {
                _ = H5Pget_userblock(create, &userBlock)
                H5Pclose(create)
            }
            if let problem = HDF5Integrity.checkLocalHeaps(bytes, base: userBlock) ?? HDF5Integrity.checkGroupNodes(bytes, base: userBlock)
                ?? HDF5Integrity.checkLinkInfo(bytes, base: userBlock) {
                H5Fclose(file)
                HDF5Library.clearErrors()
                throw HDF5Error(path: path, object: nil, problem: .corruptMetadata(problem))
            }
            let lapl = H5Pcreate(shim_H5P_LINK_ACCESS())
            guard lapl >= 0, shim_refuse_external_links(lapl) >= 0 else {
                if lapl >= 0 { H5Pclose(lapl) }
                H5Fclose(file)
                throw HDF5Error(path: path, object: nil,
                                problem: .library(operation: "create a link access list", detail: HDF5Library.takeErrorMessage()))
            }
            return (file, lapl)
        }
        self.fileID = opened.0
        self.linkAccess = opened.1
    }

    deinit {
        let (file, lapl) = (fileID, linkAccess)
        HDF5Library.locked {
            H5Pclose(lapl)
            H5Fclose(file)
        }
    }

    func error(_ object: String?, _ problem: HDF5Error.Problem) -> HDF5Error {
        HDF5Error(path: path, object: object, problem: problem)
    }

    func libraryError(_ object: String?, _ operation: String) -> HDF5Error {
        error(object, .library(operation: operation, detail: HDF5Library.takeErrorMessage()))
    }

    // MARK: objects

    /// What `objectPath` names, or nil if nothing does. External links anywhere on the path are refused.
    public func kind(of objectPath: String) throws(HDF5Error) -> HDF5ObjectKind? {
        try HDF5Library.locked { () throws(HDF5Error) -> HDF5ObjectKind? in
            guard let id = try resolve(objectPath) else { return nil }
            defer { H5Oclose(id) }
            return Self.kind(ofOpen: id)
        }
    }

    /// Link names directly inside a group, in creation order when the file tracks it, else in name order.
    public func children(of groupPath: String) throws(HDF5Error) -> [String] {
        try HDF5Library.locked { () throws(HDF5Error) -> [String] in
            let group = try openExisting(groupPath)
            defer { H5Oclose(group) }
            guard Self.kind(ofOpen: group) == .group else {
                throw error(groupPath, .notAGroup(Self.kind(ofOpen: group).rawValue))
            }
            return try links(of: group, groupPath: groupPath).map(\.name)
        }
    }

    /// Every object below the root, depth first in link order (creation order when tracked, else name order), each
    /// dataset with its checked `HDF5DatasetInfo`. The walk is bounded and linear in the number of links: each group
    /// is listed in one pass and each child opened relative to its open parent (no path is looked up twice); groups
    /// nest at most `maxDepth` deep; a group reached a second time (a hard or soft link back to an ancestor — a
    /// cycle — or one group under two names) is refused, as are external and user-defined links.
    public func walk() throws(HDF5Error) -> [HDF5Object] {
        try HDF5Library.locked { () throws(HDF5Error) -> [HDF5Object] in
            let root = try openObject("/")
            defer { H5Oclose(root) }
            var visited: [HDF5Object.Identity: String] = [try identity(of: root, path: "/"): "/"]
            var objects: [HDF5Object] = []
            try walk(group: root, components: [], visited: &visited, into: &objects)
            return objects
        }
    }

    private func walk(group: hid_t, components: [String], visited: inout [HDF5Object.Identity: String],
                      into objects: inout [HDF5Object]) throws(HDF5Error) {
        let groupPath = "/" + components.joined(separator: "/")
        for link in try links(of: group, groupPath: groupPath) {
            let childComponents = components + [link.name]
            let childPath = "/" + childComponents.joined(separator: "/")
            try checkLinkType(link.type, path: childPath)
            let child = H5Oopen(group, link.name, linkAccess)
            guard child >= 0 else { throw libraryError(childPath, "open the object") }
            defer { H5Oclose(child) }
            let kind = Self.kind(ofOpen: child)
            let identity = try identity(of: child, path: childPath)
            switch kind {
            case .group:
                if let first = visited[identity] { throw error(childPath, .groupReachedTwice(first: first)) }
                guard childComponents.count <= Self.maxDepth else {
                    throw error(childPath, .tooDeep(limit: Self.maxDepth))
                }
                visited[identity] = childPath
                objects.append(HDF5Object(components: childComponents, kind: .group, dataset: nil, identity: identity))
                try walk(group: child, components: childComponents, visited: &visited, into: &objects)
            case .dataset:
                let info = try inspect(dataset: child, datasetPath: childPath)
                objects.append(HDF5Object(components: childComponents, kind: .dataset, dataset: info, identity: identity))
            default:
                objects.append(HDF5Object(components: childComponents, kind: kind, dataset: nil, identity: identity))
            }
        }
    }

    /// Attribute names of an object, in creation order when tracked, else in name order.
    public func attributeNames(of objectPath: String) throws(HDF5Error) -> [String] {
        try HDF5Library.locked { () throws(HDF5Error) -> [String] in
            let object = try openExisting(objectPath)
            defer { H5Oclose(object) }
            let collector = NameCollector()
            let context = Unmanaged.passUnretained(collector).toOpaque()
            let callback: H5A_operator2_t = { _, name, _, data in
                guard let name, let data else { return -1 }
                let collector = Unmanaged<NameCollector>.fromOpaque(data).takeUnretainedValue()
                collector.names.append(String(cString: name))
                return collector.names.count > HDF5File.maxAttributeElements ? -1 : 0
            }
            var index: hsize_t = 0
            if H5Aiterate2(object, H5_INDEX_CRT_ORDER, H5_ITER_INC, &index, callback, context) < 0 {
                HDF5Library.clearErrors()  // creation order not tracked: fall back to name order
                collector.names.removeAll()
                index = 0
                guard H5Aiterate2(object, H5_INDEX_NAME, H5_ITER_INC, &index, callback, context) >= 0 else {
                    throw libraryError(objectPath, "list the attributes")
                }
            }
            return collector.names
        }
    }

    public func hasAttribute(_ name: String, of objectPath: String) throws(HDF5Error) -> Bool {
        try HDF5Library.locked { () throws(HDF5Error) -> Bool in
            let object = try openExisting(objectPath)
            defer { H5Oclose(object) }
            let exists = H5Aexists(object, name)
            guard exists >= 0 else { throw libraryError(objectPath, "look up attribute \"\(name)\"") }
            return exists > 0
        }
    }

    /// A string attribute as a list (a scalar string gives one element), or nil when the attribute is absent.
    /// Accepts fixed-length (NULL-terminated, NULL- or space-padded) and variable-length strings, ASCII or UTF-8, as
    /// h5py and Keras write them. An empty numeric array (what Keras writes for an empty name list) gives `[]`.
    public func strings(attribute name: String, of objectPath: String) throws(HDF5Error) -> [String]? {
        try HDF5Library.locked { () throws(HDF5Error) -> [String]? in
            let object = try openExisting(objectPath)
            defer { H5Oclose(object) }
            let exists = H5Aexists(object, name)
            guard exists >= 0 else { throw libraryError(objectPath, "look up attribute \"\(name)\"") }
            guard exists > 0 else { return nil }
            let attribute = H5Aopen(object, name, shim_H5P_DEFAULT())
            guard attribute >= 0 else { throw libraryError(objectPath, "open attribute \"\(name)\"") }
            defer { H5Aclose(attribute) }
            return try readStrings(attribute: attribute, name: name, objectPath: objectPath)
        }
    }

    // MARK: datasets

    /// Shape, element type and storage of a dataset, with every size check applied.
    public func datasetInfo(_ datasetPath: String) throws(HDF5Error) -> HDF5DatasetInfo {
        try HDF5Library.locked { () throws(HDF5Error) -> HDF5DatasetInfo in
            let dataset = try openDataset(datasetPath)
            defer { H5Oclose(dataset) }
            return try inspect(dataset: dataset, datasetPath: datasetPath)
        }
    }

    /// A float dataset's values converted to Float32 (float16/bfloat16 widen exactly; float64 rounds to nearest),
    /// in C (row-major) order. Integer, string, compound and other element types are refused.
    public func floats(_ datasetPath: String) throws(HDF5Error) -> (info: HDF5DatasetInfo, values: [Float]) {
        try HDF5Library.locked { () throws(HDF5Error) -> (info: HDF5DatasetInfo, values: [Float]) in
            let dataset = try openDataset(datasetPath)
            defer { H5Oclose(dataset) }
            return try read(dataset: dataset, datasetPath: datasetPath)
        }
    }

    /// A dataset found by `walk`, read like `floats(_ datasetPath:)` but opened by its identity (no path lookup).
    public func floats(_ object: HDF5Object) throws(HDF5Error) -> (info: HDF5DatasetInfo, values: [Float]) {
        try HDF5Library.locked { () throws(HDF5Error) -> (info: HDF5DatasetInfo, values: [Float]) in
            guard object.kind == .dataset else { throw error(object.path, .notADataset(object.kind.rawValue)) }
            var bytes = [UInt8](repeating: 0, count: 16)
            withUnsafeBytes(of: object.identity.low.littleEndian) { bytes.replaceSubrange(0..<8, with: $0) }
            withUnsafeBytes(of: object.identity.high.littleEndian) { bytes.replaceSubrange(8..<16, with: $0) }
            let dataset = shim_open_by_identity(fileID, bytes)
            guard dataset >= 0 else { throw libraryError(object.path, "open the object") }
            defer { H5Oclose(dataset) }
            guard Self.kind(ofOpen: dataset) == .dataset else { throw error(object.path, .notADataset(Self.kind(ofOpen: dataset).rawValue)) }
            return try read(dataset: dataset, datasetPath: object.path)
        }
    }

    /// Refuses a set of datasets whose float32 values would take more memory than `DecodeBudget` allows for
    /// `fileBytes` of files on disk, before any of them is read (and so before libhdf5 inflates compressed data).
    /// `path` names the checkpoint (a file, or a shard index).
    public static func checkDecodeBudget(_ datasets: [HDF5DatasetInfo], fileBytes: UInt64, path: String) throws(HDF5Error) {
        var total: UInt64 = 0
        for info in datasets {
            let (bytes, o1) = UInt64(info.elementCount).multipliedReportingOverflow(by: 4)
            let (sum, o2) = total.addingReportingOverflow(bytes)
            total = o1 || o2 ? .max : sum
        }
        let limit = DecodeBudget.limit(fileBytes: fileBytes)
        guard total <= limit else {
            throw HDF5Error(path: path, object: nil, problem: .decodeBudget(declaredBytes: total, fileBytes: fileBytes, limit: limit))
        }
    }

    // MARK: internals (lock held)

    /// Opens what `objectPath` names, one component at a time, each looked up in its open parent (so the cost is
    /// linear in the path's length), or returns nil if a component is missing. Refuses external and user-defined
    /// links anywhere on the path (soft links inside the file are followed by libhdf5), and paths deeper than
    /// `maxDepth` groups.
    func resolve(_ objectPath: String) throws(HDF5Error) -> hid_t? {
        let components = objectPath.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        guard components.count <= Self.maxDepth + 1 else { throw error(objectPath, .tooDeep(limit: Self.maxDepth)) }
        var current = try openObject("/")
        var prefix = ""
        for component in components {
            prefix += "/" + component
            let type = shim_link_type(current, component, linkAccess)
            if type < 0 {
                HDF5Library.clearErrors()
                H5Oclose(current)
                return nil
            }
            do {
                try checkLinkType(type, path: prefix)
            } catch {
                H5Oclose(current)
                throw error
            }
            let next = H5Oopen(current, component, linkAccess)
            H5Oclose(current)
            guard next >= 0 else { throw libraryError(prefix, "open the object") }
            current = next
        }
        return current
    }

    /// Hard and soft links are followed; external links (into other files) and user-defined links are refused.
    func checkLinkType(_ type: Int32, path: String) throws(HDF5Error) {
        if type == Int32(H5L_TYPE_EXTERNAL.rawValue) { throw error(path, .externalLink) }
        if type != Int32(H5L_TYPE_HARD.rawValue), type != Int32(H5L_TYPE_SOFT.rawValue) {
            throw error(path, .unsupportedLink("user-defined (type \(type))"))
        }
    }

    func openObject(_ objectPath: String) throws(HDF5Error) -> hid_t {
        let id = H5Oopen(fileID, objectPath.isEmpty ? "/" : objectPath, linkAccess)
        guard id >= 0 else { throw libraryError(objectPath, "open the object") }
        return id
    }

    func openExisting(_ objectPath: String) throws(HDF5Error) -> hid_t {
        guard let id = try resolve(objectPath) else { throw error(objectPath, .noSuchObject) }
        return id
    }

    /// The links of an open group in one pass (`H5Literate`): creation order when the group indexes it, else name
    /// order. (Looking names up by index instead costs a walk of the group's B-tree per link in old-style groups:
    /// quadratic.)
    func links(of group: hid_t, groupPath: String) throws(HDF5Error) -> [(name: String, type: Int32)] {
        var info = H5G_info_t()
        guard H5Gget_info(group, &info) >= 0 else { throw libraryError(groupPath, "read the group's link count") }
        guard info.nlinks <= UInt64(Self.maxAttributeElements) else {
            throw error(groupPath, .sizeOverflow("\(info.nlinks) links in one group"))
        }
        let order = Self.tracksCreationOrder(group: group, attributes: false) ? H5_INDEX_CRT_ORDER : H5_INDEX_NAME
        let collector = LinkCollector()
        collector.links.reserveCapacity(Int(info.nlinks))
        let context = Unmanaged.passUnretained(collector).toOpaque()
        let visit: shim_link_visitor = { name, type, data in
            guard let name, let data else { return -1 }
            let collector = Unmanaged<LinkCollector>.fromOpaque(data).takeUnretainedValue()
            collector.links.append((String(cString: name), type))
            return collector.links.count > HDF5File.maxAttributeElements ? -1 : 0
        }
        guard shim_iterate_links(group, order, visit, context) >= 0 else { throw libraryError(groupPath, "list the links") }
        return collector.links
    }

    /// The identity of an open object (see `HDF5Object.identity`).
    func identity(of object: hid_t, path: String) throws(HDF5Error) -> HDF5Object.Identity {
        var bytes = [UInt8](repeating: 0, count: 16)
        guard shim_object_identity(object, &bytes) >= 0 else { throw libraryError(path, "read the object's address") }
        return bytes.withUnsafeBytes {
            HDF5Object.Identity(low: UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
                                high: UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
        }
    }

    func openDataset(_ datasetPath: String) throws(HDF5Error) -> hid_t {
        let id = try openExisting(datasetPath)
        let kind = Self.kind(ofOpen: id)
        guard kind == .dataset else {
            H5Oclose(id)
            throw error(datasetPath, .notADataset(kind.rawValue))
        }
        return id
    }

    static func kind(ofOpen id: hid_t) -> HDF5ObjectKind {
        switch H5Iget_type(id) {
        case H5I_GROUP: return .group
        case H5I_DATASET: return .dataset
        case H5I_DATATYPE: return .namedDatatype
        default: return .other
        }
    }

    static func tracksCreationOrder(group: hid_t, attributes: Bool) -> Bool {
        let plist = H5Gget_create_plist(group)
        guard plist >= 0 else {
            HDF5Library.clearErrors()
            return false
        }
        defer { H5Pclose(plist) }
        var flags: UInt32 = 0
        let status = attributes ? H5Pget_attr_creation_order(plist, &flags) : H5Pget_link_creation_order(plist, &flags)
        guard status >= 0 else {
            HDF5Library.clearErrors()
            return false
        }
        return flags & UInt32(H5P_CRT_ORDER_INDEXED) != 0
    }

    /// Element count of a dataspace (scalar = 1), with its dimensions; nil for a null dataspace.
    func extent(of space: hid_t, object: String) throws(HDF5Error) -> (shape: [Int], count: UInt64)? {
        let spaceClass = H5Sget_simple_extent_type(space)
        if spaceClass == H5S_NULL { return nil }
        if spaceClass == H5S_SCALAR { return ([], 1) }
        guard spaceClass == H5S_SIMPLE else { throw libraryError(object, "read the dataspace") }
        let rank = H5Sget_simple_extent_ndims(space)
        guard rank >= 0, rank <= 32 else { throw libraryError(object, "read the rank") }
        var dims = [hsize_t](repeating: 0, count: Int(rank))
        guard H5Sget_simple_extent_dims(space, &dims, nil) == rank else { throw libraryError(object, "read the dimensions") }
        var count: UInt64 = 1
        var shape: [Int] = []
        // The non-zero dimensions' product must fit an Int as well: an empty [0, 2^31, 2^32] has no elements, but a
        // transpose or stride computed from its sizes overflows (HDF5Fuzz; as safetensors rule 6).
        var nonZero = 1
        for d in dims {
            let (product, overflow) = count.multipliedReportingOverflow(by: d)
            let (wide, wideOverflow) = nonZero.multipliedReportingOverflow(by: d == 0 ? 1 : Int(clamping: d))
            guard !overflow, !wideOverflow, let dim = Int(exactly: d) else {
                throw error(object, .sizeOverflow("dimensions \(dims) exceed 64-bit element counts"))
            }
            count = product
            nonZero = wide
            shape.append(dim)
        }
        return (shape, count)
    }

    static func elementType(of type: hid_t) -> HDF5ElementType {
        let size = H5Tget_size(type)
        switch H5Tget_class(type) {
        case H5T_FLOAT:
            var (spos, epos, esize, mpos, msize) = (0, 0, 0, 0, 0)
            _ = H5Tget_fields(type, &spos, &epos, &esize, &mpos, &msize)
            switch (size, esize, msize) {
            case (2, 5, 10): return .float(.f16)
            case (2, 8, 7): return .float(.bf16)
            case (4, _, _): return .float(.f32)
            case (8, _, _): return .float(.f64)
            default: return .other("float of \(size) bytes (exponent \(esize) bits, mantissa \(msize) bits)")
            }
        case H5T_INTEGER:
            return .integer(bits: size * 8, signed: H5Tget_sign(type) == H5T_SGN_2)
        case H5T_STRING: return .other("string")
        case H5T_COMPOUND: return .other("compound")
        case H5T_ENUM: return .other("enum (e.g. booleans)")
        case H5T_ARRAY: return .other("array")
        case H5T_VLEN: return .other("variable-length sequence")
        case H5T_OPAQUE: return .other("opaque")
        case H5T_REFERENCE: return .other("reference")
        case H5T_BITFIELD: return .other("bitfield")
        case H5T_TIME: return .other("time")
        default: return .other("unknown type class")
        }
    }

    /// Applies every size and storage rule to an open dataset.
    func inspect(dataset: hid_t, datasetPath: String) throws(HDF5Error) -> HDF5DatasetInfo {
        let type = H5Dget_type(dataset)
        guard type >= 0 else { throw libraryError(datasetPath, "read the element type") }
        defer { H5Tclose(type) }
        let elementType = Self.elementType(of: type)
        let typeSize = UInt64(H5Tget_size(type))

        let plist = H5Dget_create_plist(dataset)
        guard plist >= 0 else { throw libraryError(datasetPath, "read the creation properties") }
        defer { H5Pclose(plist) }
        let layout = H5Pget_layout(plist)
        if layout == H5D_VIRTUAL { throw error(datasetPath, .virtualDataset) }
        guard layout == H5D_CONTIGUOUS || layout == H5D_CHUNKED || layout == H5D_COMPACT else {
            throw libraryError(datasetPath, "read the storage layout")
        }
        if H5Pget_external_count(plist) > 0 { throw error(datasetPath, .externalStorage) }

        let space = H5Dget_space(dataset)
        guard space >= 0 else { throw libraryError(datasetPath, "read the dataspace") }
        defer { H5Sclose(space) }
        guard let (shape, count) = try extent(of: space, object: datasetPath) else {
            throw error(datasetPath, .invalidShape("null dataspace (no elements, not even a scalar)"))
        }
        let (floatBytes, o1) = count.multipliedReportingOverflow(by: 4)
        let (declared, o2) = count.multipliedReportingOverflow(by: max(typeSize, 1))
        guard !o1, !o2 else { throw error(datasetPath, .sizeOverflow("\(count) elements × \(max(typeSize, 4)) bytes")) }
        guard floatBytes <= Self.maxTensorBytes, declared <= Self.maxTensorBytes * 2 else {
            throw error(datasetPath, .tooLarge(declaredBytes: max(floatBytes, declared), limit: Self.maxTensorBytes))
        }

        let filters = Int(max(H5Pget_nfilters(plist), 0))
        if layout == H5D_CHUNKED {
            var chunk = [hsize_t](repeating: 0, count: 32)
            let chunkRank = H5Pget_chunk(plist, 32, &chunk)
            guard chunkRank >= 0 else { throw libraryError(datasetPath, "read the chunk shape") }
            var chunkBytes: UInt64 = max(typeSize, 1)
            for d in chunk.prefix(Int(chunkRank)) {
                let (p, o) = chunkBytes.multipliedReportingOverflow(by: d)
                guard !o else { throw error(datasetPath, .sizeOverflow("chunk dimensions \(Array(chunk.prefix(Int(chunkRank))))")) }
                chunkBytes = p
            }
            let limit = max(declared, Self.maxChunkBytes)
            guard chunkBytes <= limit else { throw error(datasetPath, .chunkTooLarge(bytes: chunkBytes, limit: limit)) }
        }

        let stored = UInt64(H5Dget_storage_size(dataset))
        if filters == 0 {
            guard stored >= declared else {
                throw error(datasetPath, .dataNotStored(declaredBytes: declared, storedBytes: stored))
            }
            guard declared <= fileSize else {
                throw error(datasetPath, .pastEndOfFile(end: declared, fileSize: fileSize))
            }
        } else {
            guard declared == 0 || stored > 0 else {
                throw error(datasetPath, .dataNotStored(declaredBytes: declared, storedBytes: stored))
            }
            let (bound, o) = stored.multipliedReportingOverflow(by: Self.maxCompressionRatio)
            guard o || declared <= bound else {
                throw error(datasetPath, .implausibleCompression(declaredBytes: declared, storedBytes: stored))
            }
        }
        guard stored <= fileSize else { throw error(datasetPath, .pastEndOfFile(end: stored, fileSize: fileSize)) }
        if layout == H5D_CONTIGUOUS {
            let offset = UInt64(H5Dget_offset(dataset))
            if offset != UInt64(shim_HADDR_UNDEF()) {
                let (end, o) = offset.addingReportingOverflow(declared)
                guard !o, end <= fileSize else {
                    throw error(datasetPath, .pastEndOfFile(end: o ? .max : end, fileSize: fileSize))
                }
            } else {
                HDF5Library.clearErrors()
            }
        }
        return HDF5DatasetInfo(path: datasetPath, shape: shape, elementType: elementType, elementCount: Int(count),
                               storedBytes: stored, isChunked: layout == H5D_CHUNKED, filterCount: filters)
    }

    /// An open dataset's values as Float32, after every check of `inspect`; non-float element types are refused.
    func read(dataset: hid_t, datasetPath: String) throws(HDF5Error) -> (info: HDF5DatasetInfo, values: [Float]) {
        let info = try inspect(dataset: dataset, datasetPath: datasetPath)
        guard case .float = info.elementType else {
            throw error(datasetPath, .unsupportedElementType(info.elementType.description))
        }
        var values = [Float](repeating: 0, count: info.elementCount)
        if info.elementCount > 0 {
            let status = values.withUnsafeMutableBytes {
                H5Dread(dataset, shim_H5T_NATIVE_FLOAT(), shim_H5S_ALL(), shim_H5S_ALL(), shim_H5P_DEFAULT(), $0.baseAddress)
            }
            guard status >= 0 else { throw libraryError(datasetPath, "read the data") }
        }
        return (info, values)
    }

    private func readStrings(attribute: hid_t, name: String, objectPath: String) throws(HDF5Error) -> [String] {
        let subject = "\(objectPath == "/" ? "" : objectPath)@\(name)"
        let type = H5Aget_type(attribute)
        guard type >= 0 else { throw libraryError(subject, "read the attribute type") }
        defer { H5Tclose(type) }
        let space = H5Aget_space(attribute)
        guard space >= 0 else { throw libraryError(subject, "read the attribute dataspace") }
        defer { H5Sclose(space) }
        guard let (_, count64) = try extent(of: space, object: subject) else { return [] }
        guard count64 <= UInt64(Self.maxAttributeElements) else {
            throw error(subject, .sizeOverflow("\(count64) elements in one attribute"))
        }
        let count = Int(count64)
        let typeClass = H5Tget_class(type)
        guard typeClass == H5T_STRING else {
            if count == 0 { return [] }  // Keras writes an empty name list as an empty float64 array
            throw error(subject, .unsupportedAttributeType(Self.elementType(of: type).description))
        }
        let elementSize = H5Tget_size(type)
        let (total, overflow) = UInt64(count).multipliedReportingOverflow(by: UInt64(max(elementSize, 1)))
        guard !overflow, total <= fileSize else {
            throw error(subject, .tooLarge(declaredBytes: overflow ? .max : total, limit: fileSize))
        }
        if count == 0 { return [] }

        if H5Tis_variable_str(type) > 0 {
            return try readVariableLengthStrings(attribute: attribute, count: count, subject: subject)
        }

        // Fixed length: read the bytes as stored, then cut each element at its padding.
        var bytes = [UInt8](repeating: 0, count: count * elementSize)
        let status = bytes.withUnsafeMutableBytes { H5Aread(attribute, type, $0.baseAddress) }
        guard status >= 0 else { throw libraryError(subject, "read the strings") }
        let spacePadded = H5Tget_strpad(type) == H5T_STR_SPACEPAD
        var out: [String] = []
        out.reserveCapacity(count)
        for i in 0..<count {
            var element = bytes[(i * elementSize)..<((i + 1) * elementSize)]
            if let nul = element.firstIndex(of: 0) { element = element[..<nul] }
            if spacePadded {
                while let last = element.last, last == 0x20 { element = element.dropLast() }
            }
            out.append(String(decoding: element, as: UTF8.self))
        }
        return out
    }
}

extension HDF5File {
    /// Variable-length strings, read without libhdf5's global-heap reader: libhdf5 1.10.8 (`H5HG_read`) copies a
    /// heap object into a buffer sized by the string's recorded length without comparing the two, so a corrupted
    /// file overflows memory. We take the raw descriptors (u32 length, heap collection address, u32 object index)
    /// through a no-op conversion and read each object from the mapped file, every offset and size checked.
    func readVariableLengthStrings(attribute: hid_t, count: Int, subject: String) throws(HDF5Error) -> [String] {
        guard HDF5Library.rawDescriptorsAvailable else {
            throw error(subject, .unsupportedAttributeType("variable-length strings (raw descriptor conversion unavailable)"))
        }
        let plist = H5Fget_create_plist(fileID)
        guard plist >= 0 else { throw libraryError(subject, "read the file's creation properties") }
        defer { H5Pclose(plist) }
        var addressSize = 0
        var lengthSize = 0
        var userBlock: hsize_t = 0
        guard H5Pget_sizes(plist, &addressSize, &lengthSize) >= 0, H5Pget_userblock(plist, &userBlock) >= 0 else {
            throw libraryError(subject, "read the file's address sizes")
        }
        guard addressSize == 8, lengthSize == 8 else {
            throw error(subject, .unsupportedAttributeType(
                "variable-length strings in a file with \(addressSize)-byte addresses and \(lengthSize)-byte lengths"))
        }
        let descriptorSize = 4 + addressSize + 4
        let memory = shim_vl_descriptor_type(descriptorSize)
        guard memory >= 0 else { throw libraryError(subject, "make the descriptor type") }
        defer { H5Tclose(memory) }
        var raw = [UInt8](repeating: 0, count: count * descriptorSize)
        let status = raw.withUnsafeMutableBytes { H5Aread(attribute, memory, $0.baseAddress) }
        guard status >= 0 else { throw libraryError(subject, "read the string descriptors") }

        let bytes = mapped.bytes
        func u16(_ at: Int) -> UInt16 { UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt16.self)) }
        func u64(_ at: Int) -> UInt64 { UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt64.self)) }
        func corrupt(_ why: String) -> HDF5Error { error(subject, .corruptMetadata("variable-length string: \(why)")) }

        var strings: [String] = []
        strings.reserveCapacity(count)
        for i in 0..<count {
            let d = i * descriptorSize
            let length = raw.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: d, as: UInt32.self)) }
            let address = raw.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: d + 4, as: UInt64.self)) }
            let index = raw.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: d + 12, as: UInt32.self)) }
            if length == 0 || address == 0 {
                strings.append("")
                continue
            }
            // Global heap collection: "GCOL", version 1, 3 reserved bytes, u64 collection size; then objects of
            // u16 index, u16 reference count, 4 reserved bytes, u64 size, data padded to 8 bytes; index 0 = free space.
            let (start64, o) = address.addingReportingOverflow(userBlock)
            guard !o, start64 <= UInt64(bytes.count), UInt64(bytes.count) - start64 >= 16 else {
                throw corrupt("heap collection address \(address) is outside the \(bytes.count)-byte file")
            }
            let start = Int(start64)
            guard bytes[start] == 0x47, bytes[start + 1] == 0x43, bytes[start + 2] == 0x4F, bytes[start + 3] == 0x4C,
                bytes[start + 4] == 1
            else { throw corrupt("no global heap collection at address \(address)") }
            let size = u64(start + 8)
            guard size >= 16, size <= UInt64(bytes.count - start) else {
                throw corrupt("heap collection at \(address) declares \(size) bytes, beyond the end of the file")
            }
            let end = start + Int(size)
            var p = start + 16
            var found: String?
            while p <= end - 16 {
                let objectIndex = u16(p)
                if objectIndex == 0 { break }  // free space closes the collection
                let objectSize = u64(p + 8)
                let data = p + 16
                guard objectSize <= UInt64(end - data) else {
                    throw corrupt("heap object \(objectIndex) of \(objectSize) bytes overruns its collection at \(address)")
                }
                if UInt32(objectIndex) == index {
                    guard objectSize == UInt64(length) else {
                        throw corrupt("string length \(length) disagrees with its heap object's \(objectSize) bytes")
                    }
                    // As libhdf5's char* conversion would read it: up to the first NUL.
                    var text = UnsafeRawBufferPointer(rebasing: bytes[data..<(data + Int(objectSize))])
                    if let nul = text.firstIndex(of: 0) { text = UnsafeRawBufferPointer(rebasing: text[..<nul]) }
                    found = String(decoding: text, as: UTF8.self)
                    break
                }
                let padded = (Int(objectSize) + 7) & ~7
                guard padded <= end - data else { break }
                p = data + padded
            }
            guard let found else { throw corrupt("heap collection at \(address) has no object \(index)") }
            strings.append(found)
        }
        return strings
    }
}

private final class NameCollector {
    var names: [String] = []
}

private final class LinkCollector {
    var links: [(name: String, type: Int32)] = []
}
