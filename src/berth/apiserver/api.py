"""The verbs of the API (get, list, create, update, patch, delete, bind, evict) with Kubernetes semantics,
independent of HTTP: the app in `berth.apiserver.app` parses requests and calls these.

Every write goes: decode -> server fields (`objects`) -> metadata (`metadata`: names, labels, annotations)
-> schema (`validation`) -> mutating admission -> schema again -> validating admission -> field ownership
-> size (`metadata.check_size`) -> one store transaction. A write that fails
anywhere leaves the store untouched; `dry_run` runs everything but the store write.

Deletion follows Kubernetes: an object with finalizers (or deleted with Foreground or Orphan propagation)
only gets a deletionTimestamp and goes when its last finalizer is removed; dependents are deleted by the
garbage collector (`berth.apiserver.gc`), which watches the same store.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from berth.api.projects import namespace_of_project, project_namespace
from berth.apiserver import errors, metadata, objects
from berth.apiserver.admission import Chain, Request
from berth.apiserver.objects import clone
from berth.apiserver.patch import (
    PatchError,
    json_type,
    json_patch,
    merge_patch,
    record_update,
    server_side_apply,
    strategic_merge_patch,
)
from berth.apiserver.resources import Resource, find
from berth.apiserver.validation import check_object
from berth.store import (
    AlreadyExists,
    Conflict,
    FieldSelector,
    LabelSelector,
    NotFound,
    SelectorError,
    Store,
    StoreError,
)
from berth.store import Expired as StoreExpired

NAMESPACES = find("", "v1", "namespaces")
PROJECTS = find("run.ai", "v1", "projects")
PODS = find("", "v1", "pods")
FOREGROUND, ORPHAN = "foregroundDeletion", "orphan"
NAMESPACE_FINALIZER = "kubernetes"

PATCH_TYPES = {
    "application/merge-patch+json": "merge",
    "application/json-patch+json": "json",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
}


@dataclass(frozen=True)
class WriteOptions:
    """Query parameters common to writes."""

    dry_run: bool = False
    validation: str = "Strict"
    manager: str = ""
    force: bool = False


@dataclass
class WriteResult:
    obj: dict[str, Any]
    warnings: list[str]
    created: bool = False


def _same_name(meta: dict[str, Any], name: str) -> None:
    if meta.get("name") and meta["name"] != name:
        raise errors.bad_request(f"the name of the object ({meta['name']}) does not match the name on the URL ({name})")


def _same_place(resource: Resource, obj: Any, namespace: str, name: str) -> None:
    """A patched object must keep the name and namespace of its URL: a patch cannot move or rename it
    (Kubernetes answers 400, in these words)."""
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    if not isinstance(meta, dict):
        return  # the model's validation names what is wrong with it
    _same_name(meta, name)
    if resource.namespaced and namespace and meta.get("namespace") and meta["namespace"] != namespace:
        raise errors.bad_request(f"the namespace of the object ({meta['namespace']}) does not match the namespace "
                                 f"on the request ({namespace})")


def _rv(value: Any) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise errors.bad_request(f'invalid resourceVersion "{value}": must be a whole number') from None


class StoreReader:
    """What admission plugins may read: stored objects, nothing else.

    Short lists are cached until their kind is next written: admission reads the policies of a namespace
    on every workload write, and policies change seldom."""

    CACHED_ITEMS = 64  # longer lists are read afresh each time
    CACHED_LISTS = 1024

    def __init__(self, store: Store) -> None:
        self._store = store
        self._lists: dict[tuple[Any, str | None], tuple[int, list[dict[str, Any]]]] = {}

    def get(self, resource: Resource, namespace: str, name: str) -> dict[str, Any] | None:
        return self._store.get(resource.ref, namespace if resource.namespaced else "", name)

    def list(self, resource: Resource, namespace: str | None) -> list[dict[str, Any]]:
        key = (resource.ref, namespace if resource.namespaced else None)
        stamp = self._store.last_write(resource.ref)
        cached = self._lists.get(key)
        if cached is not None and cached[0] == stamp:
            return [clone(obj) for obj in cached[1]]
        items = self._store.list(*key).items
        if len(items) <= self.CACHED_ITEMS:
            if len(self._lists) >= self.CACHED_LISTS:
                self._lists.clear()
            self._lists[key] = (stamp, [clone(obj) for obj in items])
        return items


class Api:
    """The API's verbs over one store."""

    def __init__(self, store: Store, admission: Chain | None = None) -> None:
        self.store = store
        self.admission = admission or Chain()
        self.reader = StoreReader(store)
        #: Whether each namespace seen is being deleted, as of the namespaces' last write (`_namespace_state`).
        self._namespaces: tuple[int, dict[str, bool]] = (-1, {})

    # -- reading ------------------------------------------------------------------------------------

    def get(self, resource: Resource, namespace: str, name: str) -> dict[str, Any]:
        obj = self.store.get(resource.ref, namespace, name)
        if obj is None:
            raise errors.not_found(resource.qualified, name, resource.group, resource.plural)
        return obj

    def list(self, resource: Resource, namespace: str | None, params: dict[str, str] | None = None
             ) -> dict[str, Any]:
        """A `<Kind>List`; params are the LIST query parameters."""
        params = params or {}
        labels, fields = self.selectors(resource, params)
        limit = params.get("limit")
        try:
            page = self.store.list(
                resource.ref, namespace, label_selector=labels, field_selector=fields,
                limit=int(limit) if limit and int(limit) > 0 else None,
                continue_token=params.get("continue") or None,
                resource_version=_rv(params.get("resourceVersion"))
                if params.get("resourceVersionMatch") == "Exact" else None,
            )
        except StoreExpired as exc:
            raise errors.expired(str(exc)) from None
        except (StoreError, ValueError) as exc:
            raise errors.bad_request(str(exc)) from None
        except OverflowError:  # beyond SQLite's 64-bit integers (found by fuzzing: a 500)
            raise errors.bad_request("limit, resourceVersion and the continue token must be numbers below 2^63") from None
        meta: dict[str, Any] = {"resourceVersion": str(page.revision)}
        if page.continue_token:
            meta["continue"] = page.continue_token
            if page.remaining is not None:
                meta["remainingItemCount"] = page.remaining
        return {"kind": f"{resource.kind}List", "apiVersion": resource.api_version, "metadata": meta,
                "items": page.items}

    def selectors(self, resource: Resource, params: dict[str, str]
                  ) -> tuple[LabelSelector | None, FieldSelector | None]:
        try:
            labels = LabelSelector.parse(params["labelSelector"]) if params.get("labelSelector") else None
            fields = FieldSelector.parse(params["fieldSelector"]) if params.get("fieldSelector") else None
        except SelectorError as exc:
            raise errors.bad_request(str(exc)) from None
        if fields is not None:
            for f in fields.fields():
                if f not in resource.selectable():
                    raise errors.bad_request(f'field label not supported: {f}')
        return labels, fields

    # -- writing ------------------------------------------------------------------------------------

    def _namespace_state(self, namespace: str) -> bool | None:
        """Whether the namespace is being deleted; None when there is none. Remembered until any namespace is
        next written (every create in a namespace asks: it was a read of the store and a decode each time)."""
        stamp = self.store.last_write(NAMESPACES.ref)  # read before the namespace: a write between clears
        if stamp != self._namespaces[0] or len(self._namespaces[1]) > 10_000:
            self._namespaces = (stamp, {})
        known = self._namespaces[1]
        deleting = known.get(namespace)
        if deleting is None:
            ns = self.store.get(NAMESPACES.ref, "", namespace)
            if ns is None:
                return None
            deleting = known[namespace] = objects.is_deleting(ns)
        return deleting

    def _check_namespace(self, resource: Resource, namespace: str) -> None:
        if not resource.namespaced:
            return
        deleting = self._namespace_state(namespace)
        if deleting is None:
            ns = self._project_namespace(namespace)
            if ns is None:
                raise errors.not_found("namespaces", namespace, "", "namespaces")
            deleting = objects.is_deleting(ns)
        if deleting:
            raise errors.forbidden(
                f"unable to create new content in namespace {namespace} because it is being terminated",
                namespace, "", "namespaces",
            )

    def _project_namespace(self, namespace: str) -> dict[str, Any] | None:
        """The namespace of a Project that exists but whose namespace its controller has not made yet, made
        now as the controller would make it (`berth.api.projects.project_namespace`): so that a project and
        its first workload can be applied together (`kubectl apply -f examples/quickstart/`) on `berth up`,
        where the two would otherwise race. None when no Project claims `namespace`."""
        for project in self.reader.list(PROJECTS, None):
            meta = project.get("metadata") or {}
            if namespace_of_project(meta.get("name", ""), project.get("spec")) == namespace:
                if objects.is_deleting(project):
                    return None
                try:
                    return self.create(NAMESPACES, "", project_namespace(project),
                                       WriteOptions(manager="berth-project-controller")).obj
                except errors.ApiError as exc:
                    if exc.reason != "AlreadyExists":
                        raise
                    return self.store.get(NAMESPACES.ref, "", namespace)
        return None

    def _body(self, resource: Resource, body: Any, namespace: str, name: str | None = None) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise errors.bad_request(f"the body must be a {resource.kind} object")
        api_version, kind = body.get("apiVersion"), body.get("kind")
        if api_version and api_version != resource.api_version:
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected API version "
                f"({resource.api_version})")
        if kind and kind != resource.kind:
            raise errors.bad_request(f"the kind in the data ({kind}) does not match the expected kind ({resource.kind})")
        meta = body.get("metadata")
        if meta is not None and not isinstance(meta, dict):
            raise errors.bad_request("metadata must be an object")
        meta = meta or {}
        body_ns = meta.get("namespace")
        if resource.namespaced and body_ns and body_ns != namespace:
            raise errors.bad_request("the namespace of the provided object does not match the namespace sent on the request")
        if name is not None:
            _same_name(meta, name)
        return body

    def _admit(self, operation: str, resource: Resource, namespace: str, name: str, obj: dict[str, Any],
               old: dict[str, Any] | None, opts: WriteOptions, subresource: str = "") -> tuple[dict[str, Any], list[str]]:
        metadata.check(resource, obj)
        checked, warnings = check_object(resource, obj, opts.validation)
        request = Request(operation, resource, namespace, name, checked, old, opts.dry_run, subresource)
        mutated = self.admission.mutate(request, self.reader)
        if mutated is not checked and mutated is not None:
            checked, _ = check_object(resource, mutated, "Strict")
        self.admission.validate(Request(operation, resource, namespace, name, checked, old, opts.dry_run,
                                        subresource), self.reader)
        return checked, warnings

    def create(self, resource: Resource, namespace: str, body: Any, opts: WriteOptions, *,
               applied: bool = False) -> WriteResult:
        """Create an object; `applied` when server-side apply built it (and already recorded ownership)."""
        body = self._body(resource, body, namespace)
        meta = body.get("metadata") or {}
        if not meta.get("name") and not meta.get("generateName"):
            raise errors.invalid(resource.kind, resource.group, "", [{
                "reason": "FieldValueRequired", "field": "metadata.name",
                "message": "Required value: name or generateName is required"}])
        obj = objects.prepare_create(resource, body, namespace)
        name = obj["metadata"]["name"]
        causes = metadata.name_problems(resource, name)
        if causes:
            raise errors.invalid(resource.kind, resource.group, name, causes)
        self._check_namespace(resource, namespace)
        obj, warnings = self._admit("CREATE", resource, namespace, name, obj, None, opts)
        if opts.manager and not applied:
            obj = record_update(None, obj, opts.manager, now=objects.now())
        if resource.plural == "namespaces":
            obj.setdefault("status", {})["phase"] = "Active"
        metadata.check_size(resource, obj)
        if opts.dry_run:
            if self.store.get(resource.ref, namespace if resource.namespaced else "", name) is not None:
                raise errors.already_exists(resource.qualified, name, resource.group, resource.plural)
            return WriteResult(obj, warnings, created=True)
        try:
            stored = self.store.create(resource.ref, namespace if resource.namespaced else "", name, obj)
        except AlreadyExists:
            raise errors.already_exists(resource.qualified, name, resource.group, resource.plural) from None
        return WriteResult(stored, warnings, created=True)

    def update(self, resource: Resource, namespace: str, name: str, body: Any, opts: WriteOptions,
               subresource: str = "") -> WriteResult:
        body = self._body(resource, body, namespace, name)
        expected = _rv((body.get("metadata") or {}).get("resourceVersion"))
        old = self.get(resource, namespace, name)
        return self._replace(resource, namespace, name, old, body, opts, subresource, expected)

    def _replace(self, resource: Resource, namespace: str, name: str, old: dict[str, Any], new: dict[str, Any],
                 opts: WriteOptions, subresource: str, expected: int | None, applied: bool = False) -> WriteResult:
        obj = objects.prepare_update(resource, old, new, subresource=subresource)
        obj, warnings = self._admit("UPDATE", resource, namespace, name, obj, old, opts, subresource)
        obj["metadata"]["generation"] = objects.next_generation(old, obj)
        if opts.manager and subresource != "status" and not applied:
            obj = record_update(old, obj, opts.manager, now=objects.now())
        metadata.check_size(resource, obj)
        if opts.dry_run:
            return WriteResult(obj, warnings)
        ns = namespace if resource.namespaced else ""
        try:
            if objects.is_deleting(obj) and not objects.holds_deletion(resource, obj):
                self.store.update(resource.ref, ns, name, obj, expected_rv=expected)
                return WriteResult(self.store.delete(resource.ref, ns, name), warnings)
            return WriteResult(self.store.update(resource.ref, ns, name, obj, expected_rv=expected), warnings)
        except Conflict:
            raise errors.conflict(resource.qualified, name, resource.group, resource.plural) from None
        except NotFound:
            raise errors.not_found(resource.qualified, name, resource.group, resource.plural) from None

    def patch(self, resource: Resource, namespace: str, name: str, patch: Any, content_type: str,
              opts: WriteOptions, subresource: str = "") -> WriteResult:
        kind = PATCH_TYPES.get(content_type.split(";", 1)[0].strip().lower())
        if kind is None or (kind == "strategic" and not resource.builtin):
            accepted = [t for t, k in PATCH_TYPES.items() if resource.builtin or k != "strategic"]
            raise errors.unsupported_media_type(content_type, accepted)
        for attempt in range(5):
            old = self.store.get(resource.ref, namespace if resource.namespaced else "", name)
            if old is None and kind != "apply":
                raise errors.not_found(resource.qualified, name, resource.group, resource.plural)
            new, precondition = self._patched(resource, old, patch, kind, opts, name, subresource)
            _same_place(resource, new, namespace, name)
            if old is None:
                return self.create(resource, namespace, new, opts, applied=True)
            expected = precondition if precondition is not None else _rv(old["metadata"].get("resourceVersion"))
            try:
                return self._replace(resource, namespace, name, old, new, opts, subresource, expected,
                                     applied=kind == "apply")
            except errors.ApiError as exc:
                if exc.reason != "Conflict" or precondition is not None or attempt == 4:
                    raise
        raise AssertionError("unreachable")

    def _patched(self, resource: Resource, old: dict[str, Any] | None, patch: Any, kind: str,
                 opts: WriteOptions, name: str, subresource: str = "") -> tuple[dict[str, Any], int | None]:
        current = old or None  # merge, strategic and JSON patches each copy their target before changing it
        try:
            if kind == "json":
                if not isinstance(patch, list):
                    raise errors.bad_request("a JSON patch must be a list of operations")
                result = json_patch(current, patch)
                return result, None
            if not isinstance(patch, dict):
                raise errors.bad_request("the patch must be an object")
            precondition = _rv((patch.get("metadata") or {}).get("resourceVersion"))
            if kind == "merge":
                return merge_patch(current, patch), precondition
            if kind == "strategic":
                return strategic_merge_patch(current, patch, resource.kind), precondition
            applied = clone(patch)
            if subresource != "status":
                applied.pop("status", None)  # the main resource never changes status
            self._body(resource, applied, (applied.get("metadata") or {}).get("namespace", ""), name)
            if not opts.manager:
                raise errors.bad_request("PATCH with apply-patch+yaml requires the fieldManager parameter")
            return server_side_apply(clone(current) if current else None, applied, opts.manager, force=opts.force,
                                     now=objects.now()), None
        except PatchError as exc:
            raise errors.ApiError(exc.code, exc.reason, exc.message, getattr(exc, "details", None)) from None

    # -- deleting -----------------------------------------------------------------------------------

    def delete(self, resource: Resource, namespace: str, name: str, options: dict[str, Any] | None,
               dry_run: bool = False) -> dict[str, Any]:
        options = _delete_options(options)
        ns = namespace if resource.namespaced else ""
        old = self.get(resource, namespace, name)
        pre = options.get("preconditions") or {}
        meta = old["metadata"]
        if pre.get("uid") and pre["uid"] != meta.get("uid"):
            raise errors.ApiError(409, "Conflict", f"Precondition failed: UID in precondition: {pre['uid']}, "
                                                   f"UID in object meta: {meta.get('uid')}")
        if pre.get("resourceVersion") and pre["resourceVersion"] != meta.get("resourceVersion"):
            raise errors.ApiError(409, "Conflict", f"Precondition failed: ResourceVersion in precondition: "
                                                   f"{pre['resourceVersion']}, ResourceVersion in object meta: "
                                                   f"{meta.get('resourceVersion')}")
        self.admission.validate(Request("DELETE", resource, ns, name, None, old, dry_run), self.reader)
        policy = options.get("propagationPolicy") or ("Orphan" if options.get("orphanDependents") else "Background")
        if policy not in ("Background", "Foreground", "Orphan"):
            raise errors.bad_request(f'propagationPolicy must be Background, Foreground or Orphan, not "{policy}"')
        if resource.plural == "namespaces":
            extra = None
        else:
            extra = {"Foreground": FOREGROUND, "Orphan": ORPHAN}.get(policy)
        if objects.finalizers(old) or extra or resource.plural == "namespaces":
            grace = options.get("gracePeriodSeconds")
            marked = objects.mark_deleting(old, extra, grace)
            if resource.plural == "namespaces":
                marked.setdefault("spec", {})["finalizers"] = [NAMESPACE_FINALIZER]
                marked.setdefault("status", {})["phase"] = "Terminating"
            if objects.is_deleting(old) and (extra is None or extra in objects.finalizers(old)):
                return old  # already being deleted: nothing more to do
            if dry_run:
                return marked
            try:
                return self.store.update(resource.ref, ns, name, marked,
                                         expected_rv=_rv(meta.get("resourceVersion")))
            except Conflict:
                raise errors.conflict(resource.qualified, name, resource.group, resource.plural) from None
        if dry_run:
            return old
        try:
            gone = self.store.delete(resource.ref, ns, name)
        except NotFound:
            raise errors.not_found(resource.qualified, name, resource.group, resource.plural) from None
        if resource.builtin:
            return gone
        details = {"name": name, "group": resource.group, "kind": resource.plural, "uid": meta.get("uid")}
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}

    def delete_collection(self, resource: Resource, namespace: str | None, params: dict[str, str],
                          options: dict[str, Any] | None, dry_run: bool = False) -> dict[str, Any]:
        listed = self.list(resource, namespace, {k: v for k, v in params.items()
                                                  if k in ("labelSelector", "fieldSelector")})
        for item in listed["items"]:
            meta = item["metadata"]
            try:
                self.delete(resource, meta.get("namespace", ""), meta["name"], options, dry_run)
            except errors.ApiError as exc:
                if exc.code != 404:
                    raise
        return listed

    # -- pod subresources ---------------------------------------------------------------------------

    def bind(self, namespace: str, name: str, binding: Any) -> dict[str, Any]:
        """POST pods/{name}/binding: assign the pod to a node, once. The Binding's annotations are set on the
        pod in the same write, as kube-apiserver does (a scheduler's device choice lands with the node)."""
        if not isinstance(binding, dict) or not (binding.get("target") or {}).get("name"):
            raise errors.bad_request("a Binding needs target.name, the node to bind to")
        node = binding["target"]["name"]
        metadata = binding.get("metadata") or {}
        annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
        if annotations is not None and not (isinstance(annotations, dict)
                                            and all(isinstance(v, str) for v in annotations.values())):
            raise errors.bad_request("a Binding's metadata.annotations must map names to strings")
        for _ in range(5):
            pod = self.get(PODS, namespace, name)
            _binding_preconditions(name, metadata if isinstance(metadata, dict) else {}, pod["metadata"])
            current = (pod.get("spec") or {}).get("nodeName")
            if current:
                raise errors.ApiError(409, "Conflict", f'Operation cannot be fulfilled on pods/binding "{name}": '
                                                       f'pod {name} is already assigned to node "{current}"')
            pod.setdefault("spec", {})["nodeName"] = node  # `get` decoded it for this request alone
            if annotations:
                pod["metadata"]["annotations"] = {**(pod["metadata"].get("annotations") or {}), **annotations}
            try:
                self.store.update(PODS.ref, namespace, name, pod,
                                  expected_rv=_rv(pod["metadata"].pop("resourceVersion", None)))
                break
            except Conflict:
                continue
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}

    def evict(self, namespace: str, name: str, eviction: Any) -> dict[str, Any]:
        """POST pods/{name}/eviction: delete the pod (Berth has no disruption budgets)."""
        options = (eviction or {}).get("deleteOptions") if isinstance(eviction, dict) else None
        self.delete(PODS, namespace, name, options)
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}


def _binding_preconditions(name: str, binding: dict[str, Any], pod: dict[str, Any]) -> None:
    """A Binding's metadata.uid and metadata.resourceVersion, when given, must be the pod's (kube-scheduler
    names the uid): a pod deleted and created again under its name is not bound by a decision about the first."""
    for field, label in (("uid", "UID"), ("resourceVersion", "ResourceVersion")):
        wanted = binding.get(field)
        if wanted and wanted != pod.get(field):
            raise errors.ApiError(409, "Conflict", f'Operation cannot be fulfilled on pods/binding "{name}": '
                                                   f"Precondition failed: {label} in precondition: {wanted}, "
                                                   f"{label} in object meta: {pod.get(field)}")


def _delete_options(options: Any) -> dict[str, Any]:
    """A DeleteOptions body (or the query's) checked as Kubernetes decodes it, `gracePeriodSeconds` as an int:
    a body that is not an object, or a field of the wrong type, is 400 (fuzzing found them as 500s)."""
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise errors.bad_request(f"json: cannot unmarshal {json_type(options)} into Go value of type v1.DeleteOptions "
                                 "(the body of a delete is DeleteOptions, an object)")
    if not isinstance(options.get("preconditions") or {}, dict):
        raise errors.bad_request("DeleteOptions.preconditions must be an object like {uid: ..., resourceVersion: ...}")
    if options.get("gracePeriodSeconds") is not None:
        options = {**options, "gracePeriodSeconds": _whole_seconds(options["gracePeriodSeconds"])}
    return options


def _whole_seconds(value: Any) -> int:
    """gracePeriodSeconds, an int64 in Kubernetes: a JSON integer, or the query's digits."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    elif isinstance(value, str) and value.strip().removeprefix("-").isdigit():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63:
        return value
    raise errors.bad_request(f'gracePeriodSeconds must be a whole number of seconds, not "{value}"')

