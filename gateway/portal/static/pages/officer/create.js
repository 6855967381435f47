// Creating a program: upload the recipients CSV, see its root, commit it by signing the
// createProgram transaction with the officer's own wallet, then watch the push reach 100%.
// Every step is resumable: the job lives in the gateway's database, so a closed page picks
// it up again from the jobs list (or ?job=).
import { Problem, api, boot, count, errorBox, figures, fill, h, kst, link, progress, state, status, t, table, walletProvider, won } from "/portal/static/portal.js";

const context = await boot("officer");
if (context) {
  const { token } = context;
  const url = new URL(window.location.href);
  const file = h("input", { id: "csv", type: "file", accept: ".csv,text/csv" });
  const days = h("input", { id: "days", type: "number", min: "1", max: "3650", value: "60" });
  const categories = h("input", { id: "categories", inputmode: "numeric", placeholder: "56111,47121" });
  const upload = h("button", { type: "button", class: "primary", id: "upload" }, t("create.upload"));
  const step = h("div", { id: "job" });
  const jobs = h("section", { "aria-labelledby": "h-jobs" }, h("h2", { id: "h-jobs" }, t("create.jobs")));
  fill(
    "#content",
    h(
      "section",
      { "aria-labelledby": "h-upload" },
      h("h2", { id: "h-upload" }, t("page.officer.create")),
      h("div", { class: "form-row" }, h("label", { for: "csv" }, t("create.csv")), file),
      h("div", { class: "form-row" }, h("label", { for: "days" }, t("create.days")), days,
        h("label", { for: "categories" }, t("create.categories")), categories),
      upload,
    ),
    step,
    jobs,
  );

  const show = (job, extra = []) =>
    fill(
      step,
      h(
        "section",
        { "aria-labelledby": "h-step", "data-job": job.id, "data-status": job.status },
        h("h2", { id: "h-step" }, `${t("create.job")} ${job.id.slice(0, 8)}`),
        figures([
          [t("create.count"), count(job.count), "count"],
          [t("create.total"), won(job.total), "total"],
          [t("create.state"), state(job.status), "status"],
          [t("prog.id"), job.program_id ?? "—", "program_id"],
        ]),
        h("p", {}, `${t("prog.root")} `, h("code", { id: "root" }, job.root)),
        ...extra,
      ),
    );

  const poll = async (id, done, every = 1000) => {
    for (;;) {
      const job = await api(`/v1/distributions/${id}`);
      const result = done(job);
      if (result) return job;
      await new Promise((resolve) => setTimeout(resolve, every));
    }
  };

  const push = async (job) => {
    try {
      job = await api(`/v1/distributions/${job.id}/push`, { method: "POST" });
      const bar = h("div", { id: "push" }, progress(t("create.pushed"), job.progress_pct));
      show(job, [bar]);
      job = await poll(job.id, (j) => {
        fill(bar, progress(t("create.pushed"), j.progress_pct));
        if (j.status === "failed" || j.status === "interrupted") throw new Error(`${j.error_code}: ${j.error_detail}`);
        return j.status === "done";
      });
      show(job, [
        h("div", { id: "push" }, progress(t("create.pushed"), job.progress_pct)),
        h("p", { class: "ok", id: "done" }, t("create.done")),
        h("p", {}, h("a", { id: "open-program", href: link("/portal/officer/program", token, { id: job.program_id }) }, t("create.open_program"))),
      ]);
    } catch (error) {
      step.append(errorBox(error));
    }
  };

  // A commit sent from this tab, by job: until the index binds its program, the page waits
  // for it and never offers a second commit (which would create a second program).
  const SENT = (id) => `dongne.commit.${id}`;

  const awaitIndexing = async (job) => {
    status(t("create.indexing"));
    const committed = await poll(job.id, (j) => j.program_id !== null);
    status("");
    sessionStorage.removeItem(SENT(job.id));
    await push(committed);
  };

  // The transaction is out (or the gateway says the job is committed): only waiting is left.
  // Answers the wait, which the button runs again after a failure.
  const waitAgain = (job, hash, error) => {
    const again = h("button", { type: "button", class: "primary", id: "keep-waiting" }, t("create.keep_waiting"));
    const wait = async () => {
      again.disabled = true;
      try {
        await awaitIndexing(job);
      } catch (failure) {
        status("");
        again.disabled = false;
        step.append(errorBox(failure));
      }
    };
    again.addEventListener("click", wait);
    show(job, [hash ? h("p", { id: "sent" }, t("create.sent", { hash })) : null, error ? errorBox(error) : null, again]);
    return wait;
  };

  const commit = async (job) => {
    const button = h("button", { type: "button", class: "primary", id: "commit" }, t("create.commit"));
    show(job, [button]);
    button.addEventListener("click", async () => {
      button.disabled = true;
      let hash = null;
      try {
        const params = new URLSearchParams({ days: days.value || "60" });
        if (categories.value.trim()) params.set("categories", categories.value.replace(/\s/g, ""));
        const call = await api(`/v1/distributions/${job.id}/commit-call?${params}`);
        const provider = await walletProvider();
        const wallet = await import("/portal/static/build/wallet.js");
        const from = await wallet.connect(provider);
        status(t("create.committing"));
        hash = await wallet.sendTransaction(provider, from, call.to, call.data);
        sessionStorage.setItem(SENT(job.id), hash);
        const receipt = await wallet.waitForReceipt(provider, hash);
        if (receipt.status !== "0x1" && receipt.status !== "success") {
          // Reverted: nothing was created, so committing again is safe.
          sessionStorage.removeItem(SENT(job.id));
          hash = null;
          throw new Error(`the commit reverted (${receipt.transactionHash || ""})`);
        }
        await awaitIndexing(job);
      } catch (error) {
        status("");
        if (hash !== null) {
          waitAgain(job, hash, error); // sent: never a second commit, the button stays off
        } else if (error instanceof Problem && error.code === "DistributionCommitted") {
          waitAgain(job, null, error); // committed elsewhere (another tab, the CLI)
        } else {
          button.disabled = false;
          step.append(errorBox(error));
        }
      }
    });
  };

  // Picks a job up where it stands: uncommitted, committed, or part-pushed.
  const resume = async (id) => {
    url.searchParams.set("job", id);
    window.history.replaceState(null, "", url);
    try {
      const job = await api(`/v1/distributions/${id}`);
      const sent = sessionStorage.getItem(SENT(id));
      if (job.program_id === null && sent) await waitAgain(job, sent, null)(); else if (job.program_id === null && job.status === "built") await commit(job);
      else if (job.program_id === null) waitAgain(job, null, null);
      else if (job.status === "done") await push(job);
      else await push(job);
    } catch (error) {
      fill(step, errorBox(error));
    }
  };

  upload.addEventListener("click", async () => {
    if (!file.files.length) return;
    upload.disabled = true;
    status(t("app.loading"));
    try {
      const job = await api(`/v1/distributions?token=${token}`, {
        method: "POST",
        body: file.files[0],
        headers: { "content-type": "text/csv" },
      });
      await resume(job.id);
      listJobs();
    } catch (error) {
      fill(step, errorBox(error));
    } finally {
      status("");
      upload.disabled = false;
    }
  });

  const listJobs = async () => {
    try {
      const list = await api(`/v1/distributions?token=${token}`);
      list.sort((a, b) => b.created_at - a.created_at);
      fill(
        jobs,
        h("h2", { id: "h-jobs" }, t("create.jobs")),
        table(
          [
            { label: t("create.job"), value: (j) => h("code", {}, j.id.slice(0, 8)) },
            { label: t("audit.time"), value: (j) => kst(j.created_at) },
            { label: t("create.count"), value: (j) => count(j.count), num: true },
            { label: t("create.total"), value: (j) => won(j.total), num: true },
            { label: t("create.state"), value: (j) => state(j.status) },
            { label: t("create.pushed"), value: (j) => `${j.progress_pct}%`, num: true },
            { label: "", value: (j) => h("button", { type: "button", onclick: () => resume(j.id) }, t("create.resume")) },
          ],
          list,
        ),
      );
    } catch (error) {
      jobs.append(errorBox(error));
    }
  };

  listJobs();
  if (url.searchParams.get("job")) resume(url.searchParams.get("job"));
}
