// The H0p API reference: fetches the OpenAPI document this server serves
// and renders it, operations grouped by tag. Text from the document is
// always set as text, never as HTML.
"use strict";

const METHODS = ["get", "put", "post", "patch", "delete", "head", "options", "trace"];

// el builds an element: el("p", {class: "x"}, "text", child, …).
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== undefined && v !== null) e.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : String(c));
  }
  return e;
}

// paragraphs renders a description: blank lines part paragraphs, and
// `code` spans are shown as code.
function paragraphs(text) {
  if (!text) return [];
  return text.trim().split(/\n\s*\n/).map((p) => {
    const out = el("p");
    p.replace(/\s+/g, " ").split(/(`[^`]+`)/).forEach((part) => {
      if (part.startsWith("`") && part.endsWith("`") && part.length > 1) {
        out.append(el("code", null, part.slice(1, -1)));
      } else {
        out.append(part);
      }
    });
    return out;
  });
}

function slug(s) {
  return String(s).toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
}

class Reference {
  constructor(doc) {
    this.doc = doc;
  }

  // resolve follows a local $ref ("#/components/schemas/Link").
  resolve(obj) {
    let seen = 0;
    while (obj && obj.$ref && seen++ < 16) {
      const parts = obj.$ref.replace(/^#\//, "").split("/");
      let v = this.doc;
      for (const p of parts) v = v ? v[p.replace(/~1/g, "/").replace(/~0/g, "~")] : undefined;
      obj = v;
    }
    return obj || {};
  }

  refName(obj) {
    return obj && obj.$ref ? obj.$ref.split("/").pop() : "";
  }

  // typeOf is a schema's type in one line: "string (date-time) | null".
  typeOf(s) {
    const name = this.refName(s);
    s = this.resolve(s);
    let types = Array.isArray(s.type) ? s.type : s.type ? [s.type] : [];
    let t = types.map((ty) => {
      if (ty === "array" && s.items) return this.typeOf(s.items) + "[]";
      if (ty !== "null" && s.format) return ty + " (" + s.format + ")";
      return ty;
    }).join(" | ");
    for (const k of ["oneOf", "anyOf"]) {
      if (s[k]) t = s[k].map((x) => this.typeOf(x)).join(" | ");
    }
    if (s.allOf) t = s.allOf.map((x) => this.typeOf(x)).filter(Boolean).join(" & ");
    if (name && !t.includes(name)) t = name + (t && t !== "object" ? " (" + t + ")" : "");
    return t || "any";
  }

  // constraints lists a schema's bounds and values.
  constraints(s) {
    s = this.resolve(s);
    const out = [];
    if (s.enum) out.push("one of: " + s.enum.map((v) => JSON.stringify(v)).join(", "));
    const bounds = [["minLength", "min length"], ["maxLength", "max length"], ["minimum", "≥"], ["maximum", "≤"],
      ["minItems", "min items"], ["maxItems", "max items"], ["pattern", "pattern"], ["default", "default"]];
    for (const [k, label] of bounds) {
      if (s[k] !== undefined) out.push(label + " " + (k === "default" ? JSON.stringify(s[k]) : s[k]));
    }
    return out.length ? el("span", {class: "constraints"}, out.join("; ")) : null;
  }

  // schema renders a schema as a tree of expandable properties.
  schema(s, depth, seen) {
    seen = seen || new Set();
    const name = this.refName(s);
    if (name && seen.has(name)) return el("span", {class: "type"}, name + " (see above)");
    const next = new Set(seen);
    if (name) next.add(name);
    const r = this.resolve(s);
    const box = el("div", {class: "schema"});
    box.append(el("span", {class: "type"}, this.typeOf(s)));
    const c = this.constraints(r);
    if (c) box.append(" ", c);
    box.append(...paragraphs(r.description));
    if (depth > 8) return box;
    for (const k of ["allOf", "oneOf", "anyOf"]) {
      if (!r[k]) continue;
      const list = el("ul", {class: "variants"});
      const word = {allOf: "all of", oneOf: "one of", anyOf: "any of"}[k];
      r[k].forEach((x) => list.append(el("li", null, this.schema(x, depth + 1, next))));
      box.append(el("details", depth < 1 ? {open: ""} : null, el("summary", null, word), list));
    }
    const items = r.items && this.resolve(r.items);
    if (items && (items.properties || items.allOf || items.oneOf || items.anyOf)) {
      box.append(el("details", null, el("summary", null, "items"), this.schema(r.items, depth + 1, next)));
    }
    if (r.properties) {
      const req = new Set(r.required || []);
      const table = el("table", {class: "props"});
      for (const [pname, p] of Object.entries(r.properties)) {
        const ps = this.resolve(p);
        const nested = ps.properties || ps.allOf || ps.oneOf || ps.anyOf ||
          (ps.items && this.resolve(ps.items).properties);
        table.append(el("tr", null,
          el("td", null, el("code", null, pname), req.has(pname) ? el("span", {class: "req"}, " required") : null),
          el("td", null,
            nested ? el("details", null, el("summary", null, this.typeOf(p)), this.schema(p, depth + 1, next))
              : [el("span", {class: "type"}, this.typeOf(p)), " ", this.constraints(ps), ...paragraphs(ps.description)])));
      }
      box.append(table);
    }
    if (r.additionalProperties && typeof r.additionalProperties === "object") {
      box.append(el("p", null, "values: ", el("span", {class: "type"}, this.typeOf(r.additionalProperties))));
    }
    return box;
  }

  content(c) {
    return Object.entries(c || {}).map(([mt, m]) =>
      el("div", {class: "media"}, el("span", {class: "mediatype"}, mt), m.schema ? this.schema(m.schema, 0) : null));
  }

  parameters(list) {
    if (!list.length) return null;
    const table = el("table", {class: "params"},
      el("tr", null, el("th", null, "name"), el("th", null, "in"), el("th", null, "type"), el("th", null, "description")));
    for (const raw of list) {
      const p = this.resolve(raw);
      table.append(el("tr", null,
        el("td", null, el("code", null, p.name), p.required ? el("span", {class: "req"}, " required") : null),
        el("td", null, p.in),
        el("td", null, el("span", {class: "type"}, this.typeOf(p.schema || {})), " ", this.constraints(p.schema || {})),
        el("td", null, ...paragraphs(p.description))));
    }
    return el("section", null, el("h4", null, "Parameters"), table);
  }

  security(op) {
    const reqs = op.security || this.doc.security || [];
    if (!reqs.length || reqs.some((r) => !Object.keys(r).length)) return el("p", {class: "auth"}, "Public: no key needed.");
    const schemes = this.doc.components.securitySchemes || {};
    const names = reqs.flatMap((r) => Object.keys(r)).map((n) => {
      const s = schemes[n] || {};
      return s.type === "apiKey" ? s.name + " header" : s.type === "http" ? "Authorization: " + s.scheme : n;
    });
    return el("p", {class: "auth"}, "Authentication: " + names.join(" or "));
  }

  operation(path, method, item, op) {
    const id = op.operationId || slug(method + " " + path);
    const d = el("details", {class: "op", id: id},
      el("summary", null, el("span", {class: "method " + method}, method.toUpperCase()), " ",
        el("code", {class: "path"}, path), " ", el("span", {class: "summary"}, op.summary || "")));
    // The body is built when first opened: the whole document at once
    // is tens of thousands of elements.
    let built = false;
    d.addEventListener("toggle", () => {
      if (d.open && !built) {
        built = true;
        d.append(this.operationBody(path, method, item, op, id));
      }
    });
    return d;
  }

  operationBody(path, method, item, op, id) {
    const params = [...(item.parameters || []), ...(op.parameters || [])];
    const body = op.requestBody && this.resolve(op.requestBody);
    const responses = Object.entries(op.responses || {}).map(([status, raw]) => {
      const r = this.resolve(raw);
      return el("details", {class: "response s" + status[0]},
        el("summary", null, el("span", {class: "status"}, status), " ", this.refName(raw) || "", " ",
          (r.description || "").split("\n")[0]),
        ...paragraphs(r.description), ...this.content(r.content));
    });
    return el("div", {class: "body"},
      el("p", {class: "opid"}, "operationId: ", el("code", null, id)),
      ...paragraphs(op.description),
      this.security(op),
      this.parameters(params),
      body ? el("section", null, el("h4", null, "Request body" + (body.required ? " (required)" : "")),
        ...paragraphs(body.description), ...this.content(body.content)) : null,
      el("section", null, el("h4", null, "Responses"), ...responses));
  }

  render() {
    const doc = this.doc;
    const info = document.getElementById("info");
    info.replaceChildren(...paragraphs(doc.info && doc.info.description));
    const servers = (doc.servers || []).map((s) => s.url).join(", ");
    if (servers) info.append(el("p", null, "Base URL: ", el("code", null, servers)));
    const schemes = Object.entries((doc.components || {}).securitySchemes || {});
    if (schemes.length) {
      info.append(el("h3", null, "Authentication"), el("ul", null, schemes.map(([n, s]) =>
        el("li", null, el("code", null, n), ": ", s.type === "apiKey" ? s.name + " header" : "HTTP " + s.scheme,
          " — ", s.description || ""))));
    }
    const byTag = new Map((doc.tags || []).map((t) => [t.name, {tag: t, ops: []}]));
    for (const [path, item] of Object.entries(doc.paths || {})) {
      for (const m of METHODS) {
        const op = item[m];
        if (!op) continue;
        const name = (op.tags && op.tags[0]) || "other";
        if (!byTag.has(name)) byTag.set(name, {tag: {name: name}, ops: []});
        byTag.get(name).ops.push([path, m, item, op]);
      }
    }
    const toc = document.getElementById("toc");
    const main = document.getElementById("ops");
    toc.replaceChildren();
    main.replaceChildren();
    const list = el("ul");
    for (const {tag, ops} of byTag.values()) {
      if (!ops.length) continue;
      ops.sort((a, b) => a[0].localeCompare(b[0]) || METHODS.indexOf(a[1]) - METHODS.indexOf(b[1]));
      list.append(el("li", null, el("a", {href: "#tag-" + slug(tag.name)}, tag.name)));
      main.append(el("section", {class: "tag", id: "tag-" + slug(tag.name)},
        el("h2", null, tag.name), ...paragraphs(tag.description),
        ...ops.map(([p, m, item, op]) => this.operation(p, m, item, op))));
    }
    toc.append(list);
    if (location.hash) {
      const target = document.getElementById(location.hash.slice(1));
      if (target && target.tagName === "DETAILS") target.open = true; // builds its body (toggle)
      if (target) target.scrollIntoView();
    }
  }
}

async function main() {
  const ops = document.getElementById("ops");
  try {
    const resp = await fetch("/v1/openapi.json", {headers: {Accept: "application/json"}});
    if (!resp.ok) throw new Error("GET /v1/openapi.json answered " + resp.status);
    new Reference(await resp.json()).render();
  } catch (err) {
    ops.replaceChildren(el("p", {class: "error"}, "Could not load the API document: " + err.message));
  }
}

document.addEventListener("DOMContentLoaded", main);
