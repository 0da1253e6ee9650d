package api

import (
	"strings"
	"time"

	"github.com/jilin-health/cardseal/chain"
	"github.com/jilin-health/cardseal/lifecycle"
	"github.com/jilin-health/cardseal/verifier"
)

// What the public pages say of a card's seals depends on the chain
// policy the verifier reports for it: an ordinary card carries the
// village's, the township's and the county's seals; a card the county
// issued directly (Art. 17, chain.RebirthDirect) carries the county's
// alone. chainWordsFor is the one place that words it, for the QR page
// (/V), the file check (/upload) and the progress page (/track).

// chainWords are the sentences of one policy.
type chainWords struct {
	// Heading names the seals a document of the policy carries.
	Heading string
	// Valid says the chain is complete and genuine (a clause, no full
	// stop); "" when the policy is not known, so nothing is claimed.
	Valid string
	// Incomplete says the seals found hold but the chain is not complete.
	Incomplete string
	// Progress heads the levels' review on the progress page.
	Progress string
}

// chainWordsFor returns the words of a policy, as Report.Policy names it.
func chainWordsFor(policy string) chainWords {
	switch policy {
	case chain.RebirthDirect.Name:
		return chainWords{
			Heading:    "县级电子印章（县级直接办理，第十七条）",
			Valid:      "县级电子印章经核验无误（县级直接办理，第十七条）",
			Incomplete: "文件中已有的电子印章核验无误，但县级印章尚未加盖。",
			Progress:   "县级直接办理（第十七条）",
		}
	case chain.Card.Name:
		return chainWords{
			Heading:    "三级电子印章",
			Valid:      "村(居)、乡(镇、街道)、县三级电子印章齐全且经核验无误",
			Incomplete: "文件中已有的电子印章核验无误，但三级印章尚不齐全。",
			Progress:   "三级审核进度",
		}
	}
	return chainWords{Heading: "电子印章", Incomplete: "文件中已有的电子印章核验无误，但印章尚不齐全。", Progress: "审核进度"}
}

// answerPolicy is the policy of a public answer: the checker sets Direct
// exactly when the stored card's verified report claims rebirth-direct.
func answerPolicy(a *lifecycle.Answer) string {
	if a.Direct != nil {
		return chain.RebirthDirect.Name
	}
	return chain.Card.Name
}

// validAnswerExplain is the QR page's explanation of a valid card.
func validAnswerExplain(a *lifecycle.Answer) string {
	return "此服务卡由下方所列发证机关核发，" + chainWordsFor(answerPolicy(a)).Valid + "。"
}

// fileVerdict is the upload report's verdict on the file itself.
func fileVerdict(rep *verifier.Report) verdict {
	v := fileVerdicts[rep.Verdict]
	w := chainWordsFor(rep.Policy)
	switch {
	case rep.Verdict == verifier.Valid && w.Valid != "":
		v.Explain = "文件中的" + w.Valid + "，盖章后没有被修改。"
	case rep.Verdict == verifier.Valid:
		v.Explain = "文件中的电子印章齐全，每一枚都经核验无误，盖章后没有被修改。"
	case rep.Verdict == verifier.Incomplete:
		v.Explain = w.Incomplete
	}
	return v
}

// laterRevisions says what the revisions after the first seal added,
// for a report without changes: the next level's seals, then the
// long-term validation data and document timestamps the report names.
func laterRevisions(rep *verifier.Report) string {
	var parts []string
	if len(rep.Seals) > 1 {
		parts = append(parts, "之后的每个版本只添加了下一级的印章")
	}
	var ltv []string
	if len(rep.DSSRevisions) > 0 {
		ltv = append(ltv, "长期验证数据（证书和证书吊销列表）")
	}
	if len(rep.DocTimestamps) > 0 {
		ltv = append(ltv, "文档时间戳")
	}
	if len(ltv) > 0 {
		after := "盖章之后的版本"
		if len(rep.Seals) > 1 {
			after = "最后一枚印章之后的版本"
		}
		parts = append(parts, after+"只添加了"+strings.Join(ltv, "和"))
	}
	if len(parts) == 0 {
		return "盖章之后文件没有新的版本。"
	}
	return strings.Join(parts, "；") + "。"
}

// timeSources are where a validation time comes from, in words.
var timeSources = map[string]string{
	verifier.TimeFromDocTimestamp:  "文档时间戳",
	verifier.TimeFromTimestamp:     "印章的签名时间戳",
	verifier.TimeFromVerifierClock: "核验时的时钟（文件没有时间戳）",
}

// reportStamp is a document timestamp as the upload report shows it.
type reportStamp struct {
	Index       int
	Time, TSA   string
	OK          bool
	Reason      string
	NotAfterTSA string
}

// reportLTV is the long-term validation part of the upload report.
type reportLTV struct {
	Stamps         []reportStamp
	ValidationTime string
	TimeSource     string
}

func chinaSeconds(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(lifecycle.China).Format("2006-01-02 15:04:05")
}

// ltvOf lays out the report's document timestamps and validation time.
func ltvOf(rep *verifier.Report) reportLTV {
	l := reportLTV{ValidationTime: chinaSeconds(rep.ValidationTime), TimeSource: timeSources[rep.TimeSource]}
	for _, d := range rep.DocTimestamps {
		l.Stamps = append(l.Stamps, reportStamp{Index: d.Index, Time: chinaSeconds(d.Time), TSA: d.TSA, OK: d.OK, Reason: d.Reason,
			NotAfterTSA: chinaTime(d.TSANotAfter)})
	}
	return l
}

// reportDirect is what the upload report shows of a card issued
// directly (Art. 17), as its seal claims it: references, no personal
// data.
type reportDirect struct {
	PreReview, Form string
}

func directOf(rep *verifier.Report) *reportDirect {
	if rep.Policy != chain.RebirthDirect.Name {
		return nil
	}
	return &reportDirect{PreReview: rep.PreReview, Form: rep.Form}
}
