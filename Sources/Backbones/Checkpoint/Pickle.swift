// A minimal pickle virtual machine for the subset of opcodes `torch.save` emits
// (protocol 2, plus the protocol 4 opcodes newer writers may use). It never calls
// arbitrary code: the only globals it understands are the handful torch needs to
// rebuild a state_dict, and anything else is a thrown `unsupportedPickle`.

/// A mutable Python dict (pickle builds dicts by mutating them after creation, and the memo
/// shares them by reference).
final class PickleDict {
  var items: [(key: PickleValue, value: PickleValue)] = []
}

/// A mutable Python list.
final class PickleList {
  var items: [PickleValue] = []
}

/// A tensor as torch pickles it: a view into a storage identified by its key.
struct PickleTensorRef {
  var storageKey: String
  var storageType: String
  var storageOffset: Int
  var shape: [Int]
  var strides: [Int]
}

/// A storage reference produced by a persistent id `('storage', type, key, location, numel)`.
struct PickleStorageRef {
  var key: String
  var type: String
  var count: Int
}

/// The values the reader can build.
indirect enum PickleValue {
  case none
  case bool(Bool)
  case int(Int)
  case bigInt([UInt8])
  case float(Double)
  case string(String)
  case bytes([UInt8])
  case tuple([PickleValue])
  case list(PickleList)
  case dict(PickleDict)
  case global(module: String, name: String)
  case storage(PickleStorageRef)
  case tensor(PickleTensorRef)
  case mark

  var intValue: Int? { if case .int(let v) = self { return v } else { return nil } }
  var stringValue: String? { if case .string(let v) = self { return v } else { return nil } }
  var tupleValue: [PickleValue]? {
    switch self {
    case .tuple(let v): return v
    case .list(let l): return l.items
    default: return nil
    }
  }
}

/// Reads one pickle from `bytes` starting at `position`, advancing it past STOP.
struct PickleReader {
  let bytes: [UInt8]
  let path: String
  var position: Int

  init(bytes: [UInt8], position: Int = 0, path: String) {
    self.bytes = bytes
    self.position = position
    self.path = path
  }

  private func fail(_ detail: String, at offset: Int? = nil) -> BackbonesError {
    .unsupportedPickle(path: path, offset: offset ?? position, detail: detail)
  }

  private mutating func byte() throws -> UInt8 {
    guard position < bytes.count else {
      throw BackbonesError.corruptCheckpoint(
        path: path, detail: "pickle ends early at byte \(position)")
    }
    defer { position += 1 }
    return bytes[position]
  }

  private mutating func take(_ n: Int) throws -> ArraySlice<UInt8> {
    guard n >= 0, position + n <= bytes.count else {
      throw BackbonesError.corruptCheckpoint(
        path: path, detail: "pickle needs \(n) bytes at \(position), file has \(bytes.count)")
    }
    defer { position += n }
    return bytes[position..<position + n]
  }

  private mutating func littleEndian(_ n: Int) throws -> UInt64 {
    var v: UInt64 = 0
    for (i, b) in try take(n).enumerated() { v |= UInt64(b) << (8 * UInt64(i)) }
    return v
  }

  private mutating func line() throws -> String {
    var out: [UInt8] = []
    while true {
      let b = try byte()
      if b == 0x0A { break }
      out.append(b)
    }
    return String(decoding: out, as: UTF8.self)
  }

  private mutating func utf8(_ n: Int) throws -> String {
    String(decoding: try take(n), as: UTF8.self)
  }

  /// Runs the VM until STOP and returns the top of the stack.
  /// `persistentLoad` turns a persistent id into a value (torch: storages).
  mutating func load(persistentLoad: (PickleValue) throws -> PickleValue) throws -> PickleValue {
    var stack: [PickleValue] = []
    var memo: [Int: PickleValue] = [:]

    func popMark() throws -> [PickleValue] {
      guard
        let m = stack.lastIndex(where: { if case .mark = $0 { return true } else { return false } })
      else { throw fail("no MARK on the stack") }
      let items = Array(stack[(m + 1)...])
      stack.removeSubrange(m...)
      return items
    }
    func pop() throws -> PickleValue {
      guard let v = stack.popLast() else { throw fail("pop from an empty stack") }
      return v
    }

    while true {
      let at = position
      let op = try byte()
      switch op {
      case 0x80: _ = try byte()  // PROTO
      // FRAME (protocol 4): framing is irrelevant to a reader of whole files.
      case 0x95: _ = try take(8)
      case 0x2E:  // STOP
        guard let v = stack.popLast() else { throw fail("STOP with an empty stack", at: at) }
        return v
      case 0x28: stack.append(.mark)  // MARK
      case 0x4E: stack.append(.none)  // NONE
      case 0x88: stack.append(.bool(true))  // NEWTRUE
      case 0x89: stack.append(.bool(false))  // NEWFALSE
      case 0x7D: stack.append(.dict(PickleDict()))  // EMPTY_DICT
      case 0x5D: stack.append(.list(PickleList()))  // EMPTY_LIST
      case 0x29: stack.append(.tuple([]))  // EMPTY_TUPLE
      case 0x4B: stack.append(.int(Int(try byte())))  // BININT1
      case 0x4D: stack.append(.int(Int(try littleEndian(2))))  // BININT2
      case 0x4A: stack.append(.int(Int(Int32(truncatingIfNeeded: try littleEndian(4)))))  // BININT
      case 0x8A:  // LONG1
        let n = Int(try byte())
        let raw = Array(try take(n))
        if n <= 8 {
          var v: UInt64 = 0
          for (i, b) in raw.enumerated() { v |= UInt64(b) << (8 * UInt64(i)) }
          if n > 0 && n < 8 && raw[n - 1] & 0x80 != 0 { v |= ~0 << (8 * UInt64(n)) }  // sign-extend
          stack.append(.int(Int(Int64(bitPattern: v))))
        } else {
          stack.append(.bigInt(raw))
        }
      case 0x47:  // BINFLOAT (big-endian double)
        var v: UInt64 = 0
        for b in try take(8) { v = v << 8 | UInt64(b) }
        stack.append(.float(Double(bitPattern: v)))
      case 0x58: stack.append(.string(try utf8(Int(try littleEndian(4)))))  // BINUNICODE
      case 0x8C: stack.append(.string(try utf8(Int(try byte()))))  // SHORT_BINUNICODE
      case 0x8D: stack.append(.string(try utf8(Int(try littleEndian(8)))))  // BINUNICODE8
      case 0x55: stack.append(.string(try utf8(Int(try byte()))))  // SHORT_BINSTRING
      case 0x54: stack.append(.string(try utf8(Int(try littleEndian(4)))))  // BINSTRING
      case 0x43: stack.append(.bytes(Array(try take(Int(try byte())))))  // SHORT_BINBYTES
      case 0x42: stack.append(.bytes(Array(try take(Int(try littleEndian(4))))))  // BINBYTES
      case 0x71: memo[Int(try byte())] = stack.last  // BINPUT
      case 0x72: memo[Int(try littleEndian(4))] = stack.last  // LONG_BINPUT
      case 0x94: memo[memo.count] = stack.last  // MEMOIZE
      case 0x68, 0x6A:  // BINGET, LONG_BINGET
        let index = op == 0x68 ? Int(try byte()) : Int(try littleEndian(4))
        guard let v = memo[index] else { throw fail("memo slot \(index) is empty", at: at) }
        stack.append(v)
      case 0x74: stack.append(.tuple(try popMark()))  // TUPLE
      case 0x85: stack.append(.tuple([try pop()]))  // TUPLE1
      case 0x86:  // TUPLE2
        let b = try pop()
        let a = try pop()
        stack.append(.tuple([a, b]))
      case 0x87:  // TUPLE3
        let c = try pop()
        let b = try pop()
        let a = try pop()
        stack.append(.tuple([a, b, c]))
      case 0x6C:  // LIST
        let l = PickleList()
        l.items = try popMark()
        stack.append(.list(l))
      case 0x61:  // APPEND
        let v = try pop()
        guard case .list(let l)? = stack.last else { throw fail("APPEND to a non-list", at: at) }
        l.items.append(v)
      case 0x65:  // APPENDS
        let items = try popMark()
        guard case .list(let l)? = stack.last else { throw fail("APPENDS to a non-list", at: at) }
        l.items += items
      case 0x73:  // SETITEM
        let v = try pop()
        let k = try pop()
        guard case .dict(let d)? = stack.last else { throw fail("SETITEM on a non-dict", at: at) }
        d.items.append((k, v))
      case 0x75:  // SETITEMS
        let items = try popMark()
        guard case .dict(let d)? = stack.last, items.count % 2 == 0 else {
          throw fail("SETITEMS on a non-dict", at: at)
        }
        for i in stride(from: 0, to: items.count, by: 2) {
          d.items.append((items[i], items[i + 1]))
        }
      case 0x63:  // GLOBAL
        let module = try line()
        let name = try line()
        stack.append(.global(module: module, name: name))
      case 0x93:  // STACK_GLOBAL
        let name = try pop()
        let module = try pop()
        guard let m = module.stringValue, let n = name.stringValue else {
          throw fail("STACK_GLOBAL without strings", at: at)
        }
        stack.append(.global(module: m, name: n))
      case 0x51:  // BINPERSID
        stack.append(try persistentLoad(try pop()))
      case 0x52:  // REDUCE
        let args = try pop()
        let callable = try pop()
        stack.append(try reduce(callable, args, at: at))
      case 0x81:  // NEWOBJ
        let args = try pop()
        let cls = try pop()
        stack.append(try reduce(cls, args, at: at))
      case 0x62:  // BUILD: torch sets `_metadata` on the OrderedDict; the reader does not need it.
        _ = try pop()
      default:
        throw fail(String(format: "opcode 0x%02X", op), at: at)
      }
    }
  }

  /// Applies the few callables torch state dicts use.
  private func reduce(_ callable: PickleValue, _ args: PickleValue, at: Int) throws -> PickleValue {
    guard case .global(let module, let name) = callable, let a = args.tupleValue else {
      throw fail("REDUCE of a non-global", at: at)
    }
    switch (module, name) {
    case ("collections", "OrderedDict"), ("builtins", "dict"), ("__builtin__", "dict"):
      return .dict(PickleDict())
    case ("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_tensor"):
      // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
      guard a.count >= 4, case .storage(let s) = a[0], let offset = a[1].intValue,
        let size = a[2].tupleValue?.compactMap(\.intValue),
        let strides = a[3].tupleValue?.compactMap(\.intValue), size.count == strides.count
      else { throw fail("malformed _rebuild_tensor_v2 arguments", at: at) }
      return .tensor(
        PickleTensorRef(
          storageKey: s.key, storageType: s.type, storageOffset: offset, shape: size,
          strides: strides))
    case ("torch._utils", "_rebuild_parameter"), ("torch._utils", "_rebuild_parameter_with_state"):
      guard let first = a.first else { throw fail("malformed _rebuild_parameter", at: at) }
      return first
    case ("torch", "device"):
      return a.first ?? .none
    default:
      throw fail("global \(module).\(name) is not part of a plain state_dict", at: at)
    }
  }
}
