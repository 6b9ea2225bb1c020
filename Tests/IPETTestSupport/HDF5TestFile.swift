import CHDF5
import Foundation

/// Small HDF5 files of shapes our writers never produce (link cycles, deep nesting, many datasets, compressed
/// zeros), written with libhdf5 at test time so that no Python is needed. Every file is a few kB to a few MB.
public enum HDF5TestFile {
    public enum Failure: Error, CustomStringConvertible {
        case library(String)
        public var description: String { "libhdf5 failed to \(self)" }
    }

    private static func check(_ status: Int64, _ what: String) throws {
        guard status >= 0 else { throw Failure.library(what) }
    }

    private static func check(_ status: Int32, _ what: String) throws {
        guard status >= 0 else { throw Failure.library(what) }
    }

    /// Creates `path` (old-style groups, libhdf5's defaults, as h5py writes by default), runs `body` on the file.
    private static func create(_ path: String, _ body: (hid_t) throws -> Void) throws {
        _ = H5open()
        let file = H5Fcreate(path, shim_H5F_ACC_TRUNC(), shim_H5P_DEFAULT(), shim_H5P_DEFAULT())
        try check(file, "create \(path)")
        defer { H5Fclose(file) }
        try body(file)
    }

    /// A 4-element float32 dataset `name` in `location`.
    private static func smallDataset(_ location: hid_t, _ name: String, values: [Float] = [1, 2, 3, 4]) throws {
        var dims = [hsize_t(values.count)]
        let space = H5Screate_simple(1, &dims, nil)
        try check(space, "make a dataspace")
        defer { H5Sclose(space) }
        let dataset = H5Dcreate2(location, name, shim_H5T_IEEE_F32LE(), space, shim_H5P_DEFAULT(), shim_H5P_DEFAULT(), shim_H5P_DEFAULT())
        try check(dataset, "create dataset \(name)")
        defer { H5Dclose(dataset) }
        try check(values.withUnsafeBytes {
            H5Dwrite(dataset, shim_H5T_NATIVE_FLOAT(), shim_H5S_ALL(), shim_H5S_ALL(), shim_H5P_DEFAULT(), $0.baseAddress)
        }, "write dataset \(name)")
    }

    /// Group `/a` holding dataset `w` and a hard link `self` back to `/a` (h5py: `f["a/self"] = f["a"]`).
    public static func selfLinkedGroup(at path: String) throws {
        try create(path) { file in
            let group = H5Gcreate2(file, "a", shim_H5P_DEFAULT(), shim_H5P_DEFAULT(), shim_H5P_DEFAULT())
            try check(group, "create group a")
            defer { H5Gclose(group) }
            try smallDataset(group, "w")
            try check(H5Lcreate_hard(group, ".", group, "self", shim_H5P_DEFAULT(), shim_H5P_DEFAULT()), "link a/self")
        }
    }

    /// `depth` groups nested as `/g/g/…/g`, with a 4-element dataset `w` in the innermost one.
    public static func nestedGroups(_ depth: Int, at path: String) throws {
        try create(path) { file in
            var group = H5Gopen2(file, "/", shim_H5P_DEFAULT())
            try check(group, "open the root")
            for _ in 0..<depth {
                let child = H5Gcreate2(group, "g", shim_H5P_DEFAULT(), shim_H5P_DEFAULT(), shim_H5P_DEFAULT())
                H5Gclose(group)
                try check(child, "create a nested group")
                group = child
            }
            defer { H5Gclose(group) }
            try smallDataset(group, "w")
        }
    }

    /// `count` 4-element datasets at the root, named `t000000`, `t000001`, … (element 0 holds the index).
    public static func flatDatasets(_ count: Int, at path: String) throws {
        try create(path) { file in
            for i in 0..<count {
                try smallDataset(file, "t" + String(format: "%06d", i), values: [Float(i), 0, 0, 0])
            }
        }
    }

    /// `datasets` chunked, deflate-compressed float32 datasets of `elements` zeros each (written by libhdf5 as the fill
    /// value at creation: a few kB of deflate per GiB). With `keras`, laid out as a Keras weights file (root
    /// `layer_names = ["l"]`, group `/l` with `weight_names` `m/z0:0`, …); else as a plain container (`/z0`, …).
    public static func compressedZeros(datasets: Int, elements: UInt64, keras: Bool, at path: String) throws {
        try create(path) { file in
            var location = file
            var names: [String] = []
            if keras {
                try writeStrings(["l"], attribute: "layer_names", of: file)
                let layer = H5Gcreate2(file, "l", shim_H5P_DEFAULT(), shim_H5P_DEFAULT(), shim_H5P_DEFAULT())
                try check(layer, "create group l")
                names = (0..<datasets).map { "m/z\($0):0" }
                try writeStrings(names, attribute: "weight_names", of: layer)
                let model = H5Gcreate2(layer, "m", shim_H5P_DEFAULT(), shim_H5P_DEFAULT(), shim_H5P_DEFAULT())
                H5Gclose(layer)
                try check(model, "create group l/m")
                location = model
            }
            defer { if location != file { H5Gclose(location) } }
            var dims = [hsize_t(elements)]
            var chunk = [hsize_t(min(elements, 1 << 22))]
            let space = H5Screate_simple(1, &dims, nil)
            try check(space, "make a dataspace")
            defer { H5Sclose(space) }
            let plist = H5Pcreate(shim_H5P_DATASET_CREATE())
            try check(plist, "make dataset properties")
            defer { H5Pclose(plist) }
            var zero: Float = 0
            try check(H5Pset_chunk(plist, 1, &chunk), "set the chunk shape")
            try check(H5Pset_deflate(plist, 9), "set deflate")
            try check(H5Pset_alloc_time(plist, H5D_ALLOC_TIME_EARLY), "allocate early")
            try check(H5Pset_fill_time(plist, H5D_FILL_TIME_ALLOC), "fill at allocation")
            try check(H5Pset_fill_value(plist, shim_H5T_NATIVE_FLOAT(), &zero), "set the fill value")
            for i in 0..<datasets {
                let name = keras ? "z\(i):0" : "z\(i)"
                let dataset = H5Dcreate2(location, name, shim_H5T_IEEE_F32LE(), space, shim_H5P_DEFAULT(), plist, shim_H5P_DEFAULT())
                try check(dataset, "create dataset \(name)")
                H5Dclose(dataset)
            }
        }
    }

    /// A fixed-length, NULL-padded string array attribute (as h5py 2 wrote Keras name lists).
    private static func writeStrings(_ strings: [String], attribute name: String, of object: hid_t) throws {
        let width = max(1, strings.map(\.utf8.count).max() ?? 1)
        let type = H5Tcopy(shim_H5T_C_S1())
        try check(type, "copy the string type")
        defer { H5Tclose(type) }
        try check(H5Tset_size(type, width), "size the string type")
        try check(H5Tset_strpad(type, H5T_STR_NULLPAD), "pad the string type")
        var dims = [hsize_t(strings.count)]
        let space = H5Screate_simple(1, &dims, nil)
        try check(space, "make a dataspace")
        defer { H5Sclose(space) }
        let attribute = H5Acreate2(object, name, type, space, shim_H5P_DEFAULT(), shim_H5P_DEFAULT())
        try check(attribute, "create attribute \(name)")
        defer { H5Aclose(attribute) }
        var bytes = [UInt8](repeating: 0, count: width * strings.count)
        for (i, s) in strings.enumerated() { bytes.replaceSubrange((i * width)..<(i * width + s.utf8.count), with: Array(s.utf8)) }
        try check(bytes.withUnsafeBytes { H5Awrite(attribute, type, $0.baseAddress) }, "write attribute \(name)")
    }
}
