// Synthetic sample records (invented content only) for demo, benches and tests.
#include "doorstep/core/samples.h"

#include <cstdio>
#include <string>

#include "doorstep/core/timefmt.h"

namespace doorstep::core {
namespace {

using nlohmann::json;

constexpr int64_t kHourMs = 60 * 60 * 1000;
constexpr int64_t kDayMs = 24 * kHourMs;

json Action(const char* what, const char* owner, int64_t due_days) {
  return {
      {"action", what}, {"owner", owner}, {"due", FormatDateDays(due_days)}};
}

json VisitNote(int64_t now_ms) {
  const int64_t today = DaysFromMs(now_ms);
  return {
      {"visit_type", "child_in_need"},
      {"visit_start", FormatDateTimeMs(now_ms - 2 * kHourMs)},
      {"visit_end", FormatDateTimeMs(now_ms - 1 * kHourMs)},
      {"announced", true},
      {"location", "Family home (Flat 1, Example Street)"},
      {"persons_present",
       json::array({{{"name", "Child A"}, {"role", "child"}},
                    {{"name", "Parent B"}, {"role", "parent"}},
                    {{"name", "Worker 1"}, {"role", "social_worker"}}})},
      {"child_seen", true},
      {"seen_alone", true},
      {"bedroom_seen", true},
      {"purpose",
       "Statutory child in need visit.\n"
       "Review progress on the plan agreed at the last meeting.\n"
       "Speak with Child A alone about school and home.\n"},
      {"observations",
       "The home was warm, clean and tidy; there was food in the kitchen.\n"
       "Child A showed me their bedroom: a made bed, clothes put away, books "
       "on a shelf.\n"
       "Parent B was calm and engaged throughout and answered questions "
       "openly.\n"
       "Child A appeared relaxed with Parent B and sought them out for comfort "
       "once.\n"},
      {"wishes_and_feelings",
       "Child A said: \"I like my new teacher and I have a best friend now.\"\n"
       "Child A said they feel safe at home and would like more time at the "
       "park.\n"
       "Child A asked if the worker would come back before the school "
       "holidays.\n"},
      {"communication_method", "Conversation and drawing, in English"},
      {"analysis",
       "Home conditions have improved since the last visit and are now good "
       "enough.\n"
       "Child A's account matches what was observed; no new concerns were "
       "raised.\n"
       "The plan is working; continue the current level of support and "
       "review.\n"},
      {"actions", json::array({Action("Share the visit summary with the school",
                                      "Worker 1", today + 7),
                               Action("Book the next review meeting",
                                      "Worker 1", today + 14)})},
      {"next_visit_due", FormatDateDays(today + 20)},
  };
}

json ReturnHomeInterview(int64_t now_ms) {
  const int64_t returned = now_ms - 3 * kDayMs;
  return {
      {"episode_id", "EP-0001"},
      {"missing_from", FormatDateTimeMs(returned - 30 * kHourMs)},
      {"returned_at", FormatDateTimeMs(returned)},
      {"police_reference", "REF-12345"},
      {"offered_at", FormatDateTimeMs(returned + 6 * kHourMs)},
      {"interviewer_org", "Independent Return Service (synthetic)"},
      {"interviewer_independent", true},
      {"outcome", "completed"},
      {"interview_at", FormatDateTimeMs(returned + 26 * kHourMs)},
      {"venue", "Youth centre meeting room"},
      {"where_stayed",
       "With a friend from school, at the friend's family home.\n"},
      {"with_whom", "Friend C and their parent.\n"},
      {"push_factors", json::array({"family_conflict"})},
      {"push_notes",
       "An argument at home about phone use the evening before.\n"},
      {"pull_factors", json::array()},
      {"pull_notes",
       "Child A said nothing drew them away; they wanted space.\n"},
      {"harm_suffered", false},
      {"exploitation_indicators", json::array({"none"})},
      {"child_views",
       "Child A said: \"I just needed to get away for a night.\"\n"
       "Child A agreed to call the worker next time instead of leaving.\n"},
      {"safety_info_given", true},
      {"shared_with",
       json::array({"Allocated social worker", "School safeguarding lead"})},
      {"actions", json::array({Action("Family mediation session", "Worker 2",
                                      DaysFromMs(now_ms) + 10)})},
  };
}

std::string AcademicYear(const CivilDate& d) {
  const int first = d.month >= 9 ? d.year : d.year - 1;
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02d", first % 10000, (first + 1) % 100);
  return buf;
}

const char* Term(const CivilDate& d) {
  if (d.month >= 9) return "autumn";
  if (d.month <= 3) return "spring";
  return "summer";
}

json PepUpdate(int64_t now_ms) {
  const int64_t today = DaysFromMs(now_ms);
  const CivilDate d = CivilFromDays(today);
  return {
      {"academic_year", AcademicYear(d)},
      {"term", Term(d)},
      {"meeting_date", FormatDateDays(today)},
      {"attendees",
       json::array({{{"name", "Teacher D"}, {"role", "designated_teacher"}},
                    {{"name", "Worker 1"}, {"role", "social_worker"}},
                    {{"name", "Carer E"}, {"role", "foster_carer"}},
                    {{"name", "Child A"}, {"role", "child"}}})},
      {"school_urn", "100001"},
      {"year_group", 7},
      {"attendance_pct", 95.5},
      {"suspensions_days", 0},
      {"sen_status", "sen_support"},
      {"attainment",
       json::array(
           {{{"subject", "English"}, {"current", "4"}, {"expected", "5"}},
            {{"subject", "Maths"}, {"current", "5"}, {"expected", "5"}}})},
      {"previous_targets",
       json::array({{{"target", "Read one book a week with the carer."},
                     {"outcome", "met"}},
                    {{"target", "Join an after-school club."},
                     {"outcome", "partly"}}})},
      {"new_targets",
       json::array({{{"description", "Improve reading age by six months."},
                     {"measure", "Reading test at the end of term."},
                     {"who", "Teacher D"},
                     {"by_when", FormatDateDays(today + 90)}},
                    {{"description", "Attend the homework club twice a week."},
                     {"measure", "Club register."},
                     {"who", "Carer E"},
                     {"by_when", FormatDateDays(today + 60)}}})},
      {"pupil_premium_plus",
       json::array({{{"amount_gbp", 350},
                     {"purpose", "Weekly reading tutor.\n"},
                     {"target_ref", "1"}}})},
      {"child_voice",
       "Child A said: \"Maths is my favourite, reading is harder.\"\n"
       "Child A would like to join the football club.\n"},
      {"carer_contribution", "Carer E reads with Child A most evenings.\n"},
  };
}

json PathwayPlan(int64_t now_ms) {
  const int64_t today = DaysFromMs(now_ms);
  json sections = json::object();
  for (const char* key :
       {"contact_and_support", "education_training", "employment",
        "contingency", "accommodation", "relationships", "practical_skills",
        "finance", "health", "identity"}) {
    sections[key] = {
        {"needs", std::string("Needs for ") + key +
                      ": reviewed with Young Person F.\n"
                      "No change since the last review.\n"},
        {"actions", json::array({Action("Check in at the next meeting",
                                        "Adviser 1", today + 30)})},
        {"young_person_view", "Young Person F said this is going fine.\n"},
    };
  }
  json suitability = json::object();
  for (const char* key :
       {"facilities", "state_of_repair", "safety", "location", "support",
        "tenancy", "affordability", "young_person_view"}) {
    suitability[key] = std::string("Assessed as suitable (") + key + ").\n";
  }
  return {
      {"young_person_status", "former_relevant"},
      {"personal_adviser_id", "PA-0001"},
      {"review_date", FormatDateDays(today)},
      {"review_trigger", "scheduled"},
      {"sections", sections},
      {"accommodation_changed", true},
      {"accommodation_suitability", suitability},
      {"young_person_agreement",
       "Young Person F agreed the plan and signed it.\n"},
      {"next_review_due", FormatDateDays(AddCalendarMonths(today, 6))},
  };
}

}  // namespace

json SampleFields(std::string_view type, int64_t now_ms) {
  if (type == "visit_note") return VisitNote(now_ms);
  if (type == "return_home_interview") return ReturnHomeInterview(now_ms);
  if (type == "pep_update") return PepUpdate(now_ms);
  if (type == "pathway_plan") return PathwayPlan(now_ms);
  return json();
}

}  // namespace doorstep::core
