// Module init, per-environment state, error construction, and the host queries (info,
// capabilities, hardened-runtime detection).
#include <napi.h>

#include <cstdlib>
#include <cstring>

#include "state.h"

namespace jitmem {

void Mapping::freeMemory() {
  if (memoryFreed || !rx) return;
  memoryFreed = true;
  switch (kind) {
    case MappingKind::kDual: {
      vm::DualMapping d;
      d.rx = rx;
      d.rw = rw;
      d.size = size;
      d.backing = backing;
      vm::unmapDual(d);
      break;
    }
    default: vm::unmap(rx, size); break;
  }
}

namespace {

void finalizeState(napi_env, void* data, void*) {
  // Environment teardown (worker exit, process exit): unmap whatever JS never released. The
  // weak buffer refs die with the env, so they are only dropped here, not dereferenced.
  State* st = static_cast<State*>(data);
  for (auto& kv : st->mappings) {
    kv.second->alive = false;
    kv.second->buffers.clear();
    if (kv.second->inflight == 0) kv.second->freeMemory();  // a running async call keeps it (leak, never crash)
  }
  delete st;
}

bool envFlag(const char* name) {
  const char* v = std::getenv(name);
  return v && *v && std::strcmp(v, "0") != 0;
}

bool probeExternalBuffers(napi_env env) {
  if (envFlag("JITMEM_NO_EXTERNAL_BUFFERS")) return false;
  static char probe[8];
  napi_value ab;
  return napi_create_external_arraybuffer(env, probe, sizeof(probe), nullptr, nullptr, &ab) == napi_ok;
}

Napi::Value SetErrorClass(const Napi::CallbackInfo& info) {
  State* st = getState(info.Env());
  if (info.Length() < 1 || !info[0].IsFunction()) throw Napi::TypeError::New(info.Env(), "setErrorClass(fn)");
  if (st->errorClass) napi_delete_reference(info.Env(), st->errorClass);
  napi_create_reference(info.Env(), info[0], 1, &st->errorClass);
  return info.Env().Undefined();
}

Napi::Value Info(const Napi::CallbackInfo& info) {
  const vm::Info& i = vm::info();
  Napi::Object o = Napi::Object::New(info.Env());
  o["pageSize"] = Napi::Number::New(info.Env(), static_cast<double>(i.pageSize));
  o["pageGranularity"] = Napi::Number::New(info.Env(), static_cast<double>(i.pageGranularity));
  o["largePageSize"] = Napi::Number::New(info.Env(), static_cast<double>(i.largePageSize));
  return o;
}

struct Hardened {
  bool enabled;
  int err;
  std::string syscall;
};

// Once per process: whether the host refuses RWX pages (SELinux execmem, systemd
// MemoryDenyWriteExecute, PaX, Apple hardened runtime). EACCES and EPERM mean the same here.
const Hardened& hardened() {
  static const Hardened h = [] {
    vm::Status st = vm::probeRwx();
    return Hardened{!st.ok(), st.err, st.syscall ? st.syscall : ""};
  }();
  return h;
}

Napi::Value HardenedRuntimeInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Hardened& h = hardened();
  Napi::Object o = Napi::Object::New(env);
  o["enabled"] = Napi::Boolean::New(env, h.enabled);
  o["mapJit"] = Napi::Boolean::New(env, vm::hasMapJit());
  o["dualMapping"] = Napi::Boolean::New(env, h.enabled && !vm::hasMapJit());
  o["errno"] = h.enabled && h.err ? Napi::Value(Napi::String::New(env, vm::errnoName(h.err))) : env.Null();
  return o;
}

Napi::Value Capabilities(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  Napi::Object errors = Napi::Object::New(env);
  auto record = [&](const char* name, const vm::Status& st) {
    o[name] = Napi::Boolean::New(env, st.ok());
    if (!st.ok()) errors[name] = Napi::String::New(env, vm::describe(st));
  };
  record("rwx", vm::probeRwx());
  bool anyDual = false;
#if defined(_WIN32)
  vm::Status sec = vm::probeBacking(vm::Backing::kWinSection);
  record("section", sec);
  anyDual = sec.ok();
#elif defined(__APPLE__)
  vm::Status remap = vm::probeBacking(vm::Backing::kMachRemap);
  record("machRemap", remap);
  anyDual = remap.ok();
#else
  for (vm::Backing b : {vm::Backing::kMemfd, vm::Backing::kShm, vm::Backing::kTmpfile}) {
    vm::Status st = vm::probeBacking(b);
    record(vm::backingName(b), st);
    anyDual = anyDual || st.ok();
  }
#endif
  o["dualMapping"] = Napi::Boolean::New(env, anyDual);
  o["mapJit"] = Napi::Boolean::New(env, vm::hasMapJit());
  o["largePages"] = Napi::Boolean::New(env, vm::largePagesAvailable());
  o["externalBuffers"] = Napi::Boolean::New(env, getState(env)->externalBuffers);
  o["errors"] = errors;
  return o;
}

// Cheap: the flag decided at load (or flipped by a refused external buffer), no probing.
Napi::Value ExternalBuffers(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), getState(info.Env())->externalBuffers);
}

Napi::Value ProtectJitMemory(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsBoolean()) throw Napi::TypeError::New(info.Env(), "protectJitMemory(writable: boolean)");
  vm::protectJitMemory(info[0].As<Napi::Boolean>().Value());
  return info.Env().Undefined();
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  State* st = new State();
  st->externalBuffers = probeExternalBuffers(env);
  napi_set_instance_data(env, st, finalizeState, nullptr);
  exports["setErrorClass"] = Napi::Function::New(env, SetErrorClass, "setErrorClass");
  exports["info"] = Napi::Function::New(env, Info, "info");
  exports["hardenedRuntimeInfo"] = Napi::Function::New(env, HardenedRuntimeInfo, "hardenedRuntimeInfo");
  exports["capabilities"] = Napi::Function::New(env, Capabilities, "capabilities");
  exports["externalBuffers"] = Napi::Function::New(env, ExternalBuffers, "externalBuffers");
  exports["protectJitMemory"] = Napi::Function::New(env, ProtectJitMemory, "protectJitMemory");
  exports["arch"] = Napi::String::New(env,
#if defined(__x86_64__) || defined(_M_X64)
                                      "x64"
#elif defined(__aarch64__) || defined(_M_ARM64)
                                      "arm64"
#else
                                      "unknown"
#endif
  );
  registerMappingExports(env, exports);
  registerTrampolineExports(env, exports);
  return exports;
}

State* getState(napi_env env) {
  void* data = nullptr;
  napi_get_instance_data(env, &data);
  return static_cast<State*>(data);
}

static napi_value makeJitError(napi_env env, const char* code, const std::string& message, const char* syscall,
                               int err) {
  State* st = getState(env);
  napi_value codeV, msgV, result = nullptr;
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &codeV);
  napi_create_string_utf8(env, message.c_str(), message.size(), &msgV);
  napi_value details;
  napi_create_object(env, &details);
  if (syscall) {
    napi_value v;
    napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &v);
    napi_set_named_property(env, details, "syscall", v);
  }
  if (err) {
    napi_value v;
    std::string name = vm::errnoName(err);
    napi_create_string_utf8(env, name.c_str(), name.size(), &v);
    napi_set_named_property(env, details, "errno", v);
  }
  napi_value ctor = nullptr;
  if (st && st->errorClass) napi_get_reference_value(env, st->errorClass, &ctor);
  if (ctor) {
    napi_value argv[3] = {codeV, msgV, details};
    if (napi_new_instance(env, ctor, 3, argv, &result) == napi_ok) return result;
  }
  napi_create_error(env, codeV, msgV, &result);  // before lib registered JitError: a plain Error with .code
  return result;
}

napi_value throwJit(napi_env env, const char* code, const std::string& message, const char* syscall, int err) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) napi_throw(env, makeJitError(env, code, message, syscall, err));
  return nullptr;
}

napi_value throwStatus(napi_env env, const vm::Status& st, const std::string& what) {
  std::string msg = what + ": " + vm::describe(st);
  return throwJit(env, st.code ? st.code : "InvalidState", msg, st.syscall, st.err);
}

napi_value throwType(napi_env env, const std::string& message) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) napi_throw_type_error(env, nullptr, message.c_str());
  return nullptr;
}

std::shared_ptr<Mapping> findMapping(napi_env env, napi_value idValue) {
  uint32_t id = 0;
  napi_valuetype t;
  napi_typeof(env, idValue, &t);
  if (t != napi_number || napi_get_value_uint32(env, idValue, &id) != napi_ok) {
    throwType(env, "mapping id must be a number");
    return nullptr;
  }
  State* st = getState(env);
  auto it = st->mappings.find(id);
  if (it == st->mappings.end()) {
    throwJit(env, "InvalidState", "mapping was released or never existed");
    return nullptr;
  }
  return it->second;
}

}  // namespace jitmem

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return jitmem::Init(env, exports); }
NODE_API_MODULE(jitmem, InitModule)
